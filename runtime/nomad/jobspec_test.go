package nomad_test

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"
)

// parseJobspec parses an HCL job file as Nomad's parser does (HCL 2
// native syntax, hclsyntax) and decodes the part of the job specification
// that knot's scaffolds use into the job Nomad's parser makes of it
// (Canonicalize false: only what the file says). An argument or block
// outside that part is an error, as one outside the specification is for
// Nomad; a string that interpolates Nomad's runtime values, such as
// "${node.datacenter}", stays as written, as Nomad keeps it for the
// client to fill in.
func parseJobspec(src string) (*nomadapi.Job, error) {
	f, diags := hclsyntax.ParseConfig([]byte(src), "input.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	d := &jobspecDecoder{src: []byte(src)}
	body := f.Body.(*hclsyntax.Body)
	if len(body.Attributes) > 0 || len(body.Blocks) != 1 || body.Blocks[0].Type != "job" || len(body.Blocks[0].Labels) != 1 {
		return nil, fmt.Errorf("input.hcl: the file must hold one block job \"ID\" {...}")
	}
	job := d.job(body.Blocks[0])
	if d.err != nil {
		return nil, d.err
	}
	return job, nil
}

// jobspecDecoder decodes blocks; the first error stays in err.
type jobspecDecoder struct {
	src []byte
	err error
}

// label returns the one label of b (a group, task, port or volume).
func (d *jobspecDecoder) label(b *hclsyntax.Block) string {
	if len(b.Labels) != 1 {
		d.fail(b.TypeRange, "Missing name for %s; a %s block needs one label, its name", b.Type, b.Type)
		return ""
	}
	return b.Labels[0]
}

func (d *jobspecDecoder) fail(r hcl.Range, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %s", r, fmt.Sprintf(format, args...))
	}
}

// check fails on an argument or block of b that the schema does not name.
func (d *jobspecDecoder) check(b *hclsyntax.Block, attrs, blocks string) {
	for name, a := range b.Body.Attributes {
		if !strings.Contains(" "+attrs+" ", " "+name+" ") {
			d.fail(a.NameRange, "Unsupported argument; An argument named %q is not expected here.", name)
		}
	}
	for _, c := range b.Body.Blocks {
		if !strings.Contains(" "+blocks+" ", " "+c.Type+" ") {
			d.fail(c.TypeRange, "Unsupported block type; Blocks of type %q are not expected here.", c.Type)
		}
	}
}

// value evaluates the argument name of b; nil when b has none.
func (d *jobspecDecoder) value(b *hclsyntax.Block, name string) any {
	a, ok := b.Body.Attributes[name]
	if !ok {
		return nil
	}
	return d.expr(a.Expr)
}

func (d *jobspecDecoder) expr(e hclsyntax.Expression) any {
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		switch e.(type) {
		case *hclsyntax.TemplateExpr, *hclsyntax.TemplateWrapExpr:
			r := e.Range()
			return string(d.src[r.Start.Byte+1 : r.End.Byte-1]) // a runtime interpolation, kept
		}
		d.fail(e.Range(), "%s", diags.Error())
		return nil
	}
	return d.goValue(e.Range(), v)
}

func (d *jobspecDecoder) goValue(r hcl.Range, v cty.Value) any {
	switch {
	case v.Type() == cty.String:
		return v.AsString()
	case v.Type() == cty.Number:
		i, acc := v.AsBigFloat().Int64()
		if acc != big.Exact {
			d.fail(r, "a whole number is required")
		}
		return int(i)
	case v.Type() == cty.Bool:
		return v.True()
	case v.Type().IsTupleType() || v.Type().IsListType():
		var out []any
		for _, e := range v.AsValueSlice() {
			out = append(out, d.goValue(r, e))
		}
		return out
	}
	d.fail(r, "unsupported value of type %s", v.Type().FriendlyName())
	return nil
}

func (d *jobspecDecoder) str(b *hclsyntax.Block, name string) *string {
	switch v := d.value(b, name).(type) {
	case nil:
		return nil
	case string:
		return &v
	default:
		d.fail(b.Body.Attributes[name].SrcRange, "Incorrect attribute value type; a string is required")
		return nil
	}
}

func (d *jobspecDecoder) num(b *hclsyntax.Block, name string) *int {
	switch v := d.value(b, name).(type) {
	case nil:
		return nil
	case int:
		return &v
	default:
		d.fail(b.Body.Attributes[name].SrcRange, "Incorrect attribute value type; a number is required")
		return nil
	}
}

func (d *jobspecDecoder) strings(b *hclsyntax.Block, name string) []string {
	var out []string
	l, _ := d.value(b, name).([]any)
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			d.fail(b.Body.Attributes[name].SrcRange, "Incorrect attribute value type; a list of strings is required")
		}
		out = append(out, s)
	}
	return out
}

func (d *jobspecDecoder) duration(b *hclsyntax.Block, name string) time.Duration {
	s := d.str(b, name)
	if s == nil {
		return 0
	}
	v, err := time.ParseDuration(*s)
	if err != nil {
		d.fail(b.Body.Attributes[name].SrcRange, "%v", err)
	}
	return v
}

// strMap decodes a block of string arguments (env, meta).
func (d *jobspecDecoder) strMap(b *hclsyntax.Block) map[string]string {
	out := map[string]string{}
	for name := range b.Body.Attributes {
		out[name] = deref(d.str(b, name))
	}
	return out
}

func (d *jobspecDecoder) job(b *hclsyntax.Block) *nomadapi.Job {
	d.check(b, "datacenters type namespace region priority", "group meta")
	id := b.Labels[0]
	job := &nomadapi.Job{ID: &id, Name: &id, Type: d.str(b, "type"), Namespace: d.str(b, "namespace"),
		Region: d.str(b, "region"), Priority: d.num(b, "priority"), Datacenters: d.strings(b, "datacenters")}
	for _, c := range b.Body.Blocks {
		switch c.Type {
		case "group":
			job.TaskGroups = append(job.TaskGroups, d.group(c))
		case "meta":
			job.Meta = d.strMap(c)
		}
	}
	return job
}

func (d *jobspecDecoder) group(b *hclsyntax.Block) *nomadapi.TaskGroup {
	d.check(b, "count", "task network volume service meta")
	name := d.label(b)
	tg := &nomadapi.TaskGroup{Name: &name, Count: d.num(b, "count")}
	for _, c := range b.Body.Blocks {
		switch c.Type {
		case "task":
			tg.Tasks = append(tg.Tasks, d.task(c))
		case "network":
			d.check(c, "mode", "port")
			n := &nomadapi.NetworkResource{Mode: deref(d.str(c, "mode"))}
			for _, p := range c.Body.Blocks {
				d.check(p, "static to", "")
				port := nomadapi.Port{Label: d.label(p), Value: deref(d.num(p, "static")), To: deref(d.num(p, "to"))}
				if port.Value != 0 {
					n.ReservedPorts = append(n.ReservedPorts, port)
				} else {
					n.DynamicPorts = append(n.DynamicPorts, port)
				}
			}
			tg.Networks = append(tg.Networks, n)
		case "volume":
			d.check(c, "type source read_only", "")
			if tg.Volumes == nil {
				tg.Volumes = map[string]*nomadapi.VolumeRequest{}
			}
			ro, _ := d.value(c, "read_only").(bool)
			name := d.label(c)
			tg.Volumes[name] = &nomadapi.VolumeRequest{Name: name, Type: deref(d.str(c, "type")), Source: deref(d.str(c, "source")), ReadOnly: ro}
		case "service":
			tg.Services = append(tg.Services, d.service(c))
		case "meta":
			tg.Meta = d.strMap(c)
		}
	}
	return tg
}

func (d *jobspecDecoder) service(b *hclsyntax.Block) *nomadapi.Service {
	d.check(b, "name port tags", "check")
	s := &nomadapi.Service{Name: deref(d.str(b, "name")), PortLabel: deref(d.str(b, "port")), Tags: d.strings(b, "tags")}
	for _, c := range b.Body.Blocks {
		d.check(c, "type path interval timeout", "")
		s.Checks = append(s.Checks, nomadapi.ServiceCheck{Type: deref(d.str(c, "type")), Path: deref(d.str(c, "path")),
			Interval: d.duration(c, "interval"), Timeout: d.duration(c, "timeout")})
	}
	return s
}

func (d *jobspecDecoder) task(b *hclsyntax.Block) *nomadapi.Task {
	d.check(b, "driver user", "config env resources volume_mount meta")
	t := &nomadapi.Task{Name: d.label(b), Driver: deref(d.str(b, "driver")), User: deref(d.str(b, "user"))}
	for _, c := range b.Body.Blocks {
		switch c.Type {
		case "config":
			// A driver's own schema; every argument is kept.
			t.Config = map[string]any{}
			for name := range c.Body.Attributes {
				t.Config[name] = d.value(c, name)
			}
		case "env":
			t.Env = d.strMap(c)
		case "meta":
			t.Meta = d.strMap(c)
		case "resources":
			d.check(c, "cpu memory", "")
			t.Resources = &nomadapi.Resources{CPU: d.num(c, "cpu"), MemoryMB: d.num(c, "memory")}
		case "volume_mount":
			d.check(c, "volume destination read_only", "")
			t.VolumeMounts = append(t.VolumeMounts, &nomadapi.VolumeMount{Volume: d.str(c, "volume"), Destination: d.str(c, "destination")})
		}
	}
	return t
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
