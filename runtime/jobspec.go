package runtime

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"

	"github.com/knot-dev/knot/shared"
)

// CheckJobSyntax checks that a rendered Nomad job spec is well-formed HCL,
// or HCL's JSON syntax when it begins with '{' (as Nomad reads a job). It
// checks the syntax only: what the job means is Nomad's to check when the
// space starts. Its error is an EINVALID *shared.SpecError at the line and
// column of the first problem, such as
// `line 3, column 9: Missing newline after argument: ...`.
func CheckJobSyntax(src string) error {
	var diags hcl.Diagnostics
	if strings.HasPrefix(strings.TrimLeft(src, " \t\r\n"), "{") {
		// encoding/json places a syntax error where it is; HCL's JSON
		// parser, at times, where it gave up.
		var raw json.RawMessage
		var se *json.SyntaxError
		if err := json.Unmarshal([]byte(src), &raw); errors.As(err, &se) {
			line, column := position(src, int(se.Offset))
			return &shared.SpecError{Line: line, Column: column,
				Err: shared.Errorf(shared.EINVALID, "line %d, column %d: %s", line, column, se.Error())}
		}
		_, diags = hcljson.Parse([]byte(src), "job.json")
	} else {
		_, diags = hclsyntax.ParseConfig([]byte(src), "job.hcl", hcl.Pos{Line: 1, Column: 1})
	}
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject == nil {
			return &shared.SpecError{Err: shared.Errorf(shared.EINVALID, "%s", msg)}
		}
		at := d.Subject.Start
		return &shared.SpecError{Line: at.Line, Column: at.Column,
			Err: shared.Errorf(shared.EINVALID, "line %d, column %d: %s", at.Line, at.Column, msg)}
	}
	return nil
}

// position returns the line and column, from 1, of the byte at offset of
// src; a syntax error's offset is just past the byte that is wrong.
func position(src string, offset int) (line, column int) {
	offset = min(offset, len(src))
	if offset > 0 && (offset < len(src) || src[offset-1] != '\n') {
		offset-- // the byte encoding/json stopped at, or the last one
	}
	before := src[:offset]
	line = strings.Count(before, "\n") + 1
	return line, offset - strings.LastIndex(before, "\n")
}
