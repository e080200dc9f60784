package runtime

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"github.com/knot-dev/knot/shared"
)

// ServerInfo is what templates see as .server: facts about the server that
// runs the space.
type ServerInfo struct {
	URL            string // .server.url; a trailing "/" is dropped
	AgentEndpoint  string // .server.agent_endpoint, e.g. "knot.example.com:3010" or "srv+knot-agent.service.consul"
	WildcardDomain string // .server.wildcard_domain; a leading "*" is dropped
	Location       string // .server.location
	Timezone       string // .server.timezone
}

// NomadInfo is what templates see as .nomad. Without it, .nomad.dc and
// .nomad.region are not defined.
type NomadInfo struct {
	DC     string
	Region string
}

// RenderData is everything a template can refer to. Nil Space, User or
// Template leave .space, .user or .template undefined.
type RenderData struct {
	Space    *shared.Space
	User     *shared.User
	Template *shared.Template
	Server   ServerInfo
	Nomad    *NomadInfo
	// Vars are the template variables for this server, by name, with
	// protected values already opened.
	Vars map[string]string
}

func (d *RenderData) values() map[string]any {
	m := map[string]any{
		"server": map[string]string{
			"url":             strings.TrimSuffix(d.Server.URL, "/"),
			"agent_endpoint":  d.Server.AgentEndpoint,
			"wildcard_domain": strings.TrimPrefix(d.Server.WildcardDomain, "*"),
			"location":        d.Server.Location,
			"timezone":        d.Server.Timezone,
		},
	}
	if d.Space != nil {
		m["space"] = map[string]string{"id": d.Space.ID, "name": d.Space.Name}
	}
	if d.User != nil {
		m["user"] = map[string]string{
			"id":               d.User.ID,
			"username":         d.User.Username,
			"email":            d.User.Email,
			"timezone":         d.User.Timezone,
			"service_password": d.User.ServicePassword,
		}
	}
	if d.Template != nil {
		m["template"] = map[string]string{"id": d.Template.ID, "name": d.Template.Name}
	}
	if d.Nomad != nil {
		m["nomad"] = map[string]string{"dc": d.Nomad.DC, "region": d.Nomad.Region}
	}
	vars := make(varMap, len(d.Vars))
	for k, v := range d.Vars {
		vars[k] = v
	}
	m["var"] = vars
	return m
}

// Render renders src, the spec or volume definition of a template, with Go's
// text/template using the delimiters "${{" and "}}". label names the source
// in errors, for example `template "dev"` or `template "dev" volumes`.
//
// A reference to anything that is not defined (.var.FOO, .user.nickname,
// index .var "FOO") is an EINVALID error that names it and its line, such as
// `template "dev" line 3: .var.FOO is not defined`; Render never produces
// "<no value>". For an undefined template variable the error is a
// *MissingVarError. Syntax errors are EINVALID errors with their line too.
func Render(label, src string, d *RenderData) (string, error) {
	if d == nil {
		d = &RenderData{}
	}
	return render(label, src, d.values(), nil)
}

// renderDryRun renders src with placeholder data in which every .var.NAME is
// defined, to find syntax errors and references to unknown fields without
// knowing the variables.
func renderDryRun(label, src string) (string, error) {
	d := &RenderData{
		Space:    &shared.Space{Meta: shared.Meta{ID: placeholderID}, Name: "space"},
		User:     &shared.User{Meta: shared.Meta{ID: placeholderID}, Username: "user", Email: "user@example.com", Timezone: "UTC", ServicePassword: "password"},
		Template: &shared.Template{Meta: shared.Meta{ID: placeholderID}, Name: "template"},
		Server:   ServerInfo{URL: "https://knot.example.com", AgentEndpoint: "knot.example.com:3010", WildcardDomain: ".knot.example.com", Location: "default", Timezone: "UTC"},
		Nomad:    &NomadInfo{DC: "dc1", Region: "global"},
	}
	vals := d.values()
	anyVar := map[string]bool{}
	return render(label, src, vals, anyVar)
}

const placeholderID = "00000000-0000-7000-8000-000000000000"

// varPlaceholder is the value of every variable in a dry run. "1" is valid
// wherever the container spec takes a string, a number or a port.
const varPlaceholder = "1"

// render executes src with vals. When dryVars is not nil, a reference to an
// undefined .var.NAME defines NAME with a placeholder and renders again.
func render(label, src string, vals map[string]any, dryVars map[string]bool) (string, error) {
	const name = "t"
	tmpl, err := template.New(name).
		Delims("${{", "}}").
		Option("missingkey=error").
		Funcs(template.FuncMap{"index": strictIndex}).
		Parse(src)
	if err != nil {
		return "", templateError(label, err)
	}
	for attempt := 0; ; attempt++ {
		var b strings.Builder
		err = tmpl.Execute(&b, vals)
		if err == nil {
			return b.String(), nil
		}
		terr := templateError(label, err)
		var missing *MissingVarError
		if dryVars != nil && attempt < 1000 && errors.As(terr, &missing) && !dryVars[missing.Name] {
			dryVars[missing.Name] = true
			vals["var"].(varMap)[missing.Name] = varPlaceholder
			continue
		}
		return "", terr
	}
}

// varMap is what templates see as .var. Its own type lets strictIndex tell
// a missing variable from any other missing key.
type varMap map[string]string

// MissingVarError is the error of Render for a reference to a template
// variable that is not defined: .var.NAME, $.var.NAME or index .var "NAME".
// It unwraps to the EINVALID *shared.Error whose message names the
// template, the line and the reference, so its text is unchanged; callers
// that need the variable match it with errors.As and read Name.
type MissingVarError struct {
	Name string // the variable's name
	err  *shared.SpecError
}

func (e *MissingVarError) Error() string { return e.err.Error() }

func (e *MissingVarError) Unwrap() error { return e.err }

// undefinedVarError is strictIndex's error for a key that .var lacks.
type undefinedVarError struct{ name string }

func (e *undefinedVarError) Error() string { return fmt.Sprintf("key %q is not defined", e.name) }

var (
	// "template: t:3:12: executing \"t\" at <.var.FOO>: map has no entry for key \"FOO\""
	errLineRe    = regexp.MustCompile(`^template: t:(\d+)(?::(\d+))?: (.*)$`)
	unclosedRe   = regexp.MustCompile(`^unclosed action started at line (\d+)$`)
	execAtRe     = regexp.MustCompile(`^executing "t" at <(.*?)>: (.*)$`)
	missingKeyRe = regexp.MustCompile(`^map has no entry for key "(.*)"$`)
	strictKeyRe  = regexp.MustCompile(`^error calling index: (.*)$`)
	innerPosRe   = regexp.MustCompile(`(^|[^\w.])t:(\d+)(?::\d+)?`)
	varFieldRe   = regexp.MustCompile(`^\$?\.var\.([A-Za-z0-9_]+)$`)
)

// templateError turns a text/template error into an EINVALID error that
// names the template and the line: a *shared.SpecError at the line (where
// an unclosed action begins, for that error) and the column, or a
// *MissingVarError when the error is an undefined variable. text/template's errors carry their position and node
// only in their text (and a missing map key has no type of its own), so
// this is the one place that reads it.
func templateError(label string, err error) error {
	msg := err.Error()
	m := errLineRe.FindStringSubmatch(msg)
	if m == nil {
		return shared.Errorf(shared.EINVALID, "%s: %s", label, strings.TrimPrefix(msg, "template: "))
	}
	line, rest := m[1], m[3]
	column, _ := strconv.Atoi(m[2])
	if m[2] != "" {
		column++ // text/template counts the bytes of a line from 0
	}
	variable := ""
	if at := execAtRe.FindStringSubmatch(rest); at != nil {
		node, why := at[1], at[2]
		switch {
		case missingKeyRe.MatchString(why):
			rest = node + " is not defined"
			if v := varFieldRe.FindStringSubmatch(node); v != nil {
				variable = v[1]
			}
		case strictKeyRe.MatchString(why):
			rest = node + ": " + strictKeyRe.FindStringSubmatch(why)[1]
		default:
			rest = node + ": " + why
		}
	}
	var undefined *undefinedVarError
	if errors.As(err, &undefined) {
		variable = undefined.name
	}
	rest = innerPosRe.ReplaceAllString(rest, "${1}line ${2}")
	at, _ := strconv.Atoi(line)
	if u := unclosedRe.FindStringSubmatch(rest); u != nil {
		at, _ = strconv.Atoi(u[1])
	}
	e := &shared.SpecError{Line: at, Column: column, Err: shared.Errorf(shared.EINVALID, "%s line %s: %s", label, line, rest)}
	if variable != "" {
		return &MissingVarError{Name: variable, err: e}
	}
	return e
}

// strictIndex replaces text/template's index for the maps templates see: a
// missing key is an error instead of an empty value.
func strictIndex(item any, keys ...any) (any, error) {
	v := item
	for _, k := range keys {
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Map:
			kv := reflect.ValueOf(k)
			if !kv.IsValid() || !kv.Type().AssignableTo(rv.Type().Key()) {
				return nil, fmt.Errorf("key %v is not a %s", k, rv.Type().Key())
			}
			e := rv.MapIndex(kv)
			if !e.IsValid() {
				if _, ok := v.(varMap); ok {
					return nil, &undefinedVarError{name: fmt.Sprint(k)}
				}
				return nil, fmt.Errorf("key %q is not defined", fmt.Sprint(k))
			}
			v = e.Interface()
		case reflect.Slice, reflect.Array, reflect.String:
			i, ok := toInt(k)
			if !ok {
				return nil, fmt.Errorf("index %v is not an integer", k)
			}
			if i < 0 || i >= rv.Len() {
				return nil, fmt.Errorf("index %d is out of range (length %d)", i, rv.Len())
			}
			v = rv.Index(i).Interface()
		default:
			return nil, errors.New("can't index item of type " + rv.Kind().String())
		}
	}
	return v, nil
}

func toInt(k any) (int, bool) {
	rv := reflect.ValueOf(k)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int(rv.Uint()), true
	}
	return 0, false
}
