package config

import (
	"errors"
	"fmt"
	"strings"
)

// SourceKind says where a value came from.
type SourceKind int

// The sources of values, in rising precedence.
const (
	SourceDefault SourceKind = iota
	SourceFile
	SourceEnv
	SourceFlag
)

// Source is where a value came from.
type Source struct {
	Kind SourceKind
	// Name is the file path, the variable name or the flag name.
	Name string
	// Line and Column locate a value in the file (1-based; 0 when unknown).
	Line, Column int
}

// String returns "knot.yaml:12", "env KNOT_LISTEN", "flag --listen" or
// "default".
func (s Source) String() string {
	switch s.Kind {
	case SourceFile:
		if s.Line > 0 {
			return fmt.Sprintf("%s:%d", s.Name, s.Line)
		}
		return s.Name
	case SourceEnv:
		return "env " + s.Name
	case SourceFlag:
		return "flag --" + s.Name
	}
	return "default"
}

// Error is one problem found while loading: which key, where it was set,
// and what is wrong.
type Error struct {
	// Key is the key's path, such as "server.listen"; "" for problems of
	// the file as a whole.
	Key     string
	Source  Source
	Problem string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return e.Source.String() + ": " + e.Problem
	}
	return e.Source.String() + ": " + e.Key + ": " + e.Problem
}

// Errors is every problem found while loading, in the order found. Load
// returns it as its error; errors.As finds each *Error in it.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the errors, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// FromFlag reports whether err holds a bad value of a key given by a flag,
// which is a usage error of the command line. A config file that cannot be
// read is not one, even when a flag named it.
func FromFlag(err error) bool {
	var es Errors
	if !errors.As(err, &es) {
		return false
	}
	for _, e := range es {
		if e.Source.Kind == SourceFlag && e.Key != "" {
			return true
		}
	}
	return false
}
