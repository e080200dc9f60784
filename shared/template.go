package shared

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
)

// TemplateKind says how spaces of a template run.
type TemplateKind string

const (
	TemplateContainer TemplateKind = "container" // a YAML container spec for Docker or Podman
	TemplateNomad     TemplateKind = "nomad"     // an HCL Nomad job spec
	TemplateManual    TemplateKind = "manual"    // the user runs the agent; no runtime
)

// MaxSpecSize is the largest template spec or volume definition, in bytes.
const MaxSpecSize = 1 << 20

// Valid reports whether k is a known kind.
func (k TemplateKind) Valid() bool {
	return k == TemplateContainer || k == TemplateNomad || k == TemplateManual
}

// Template describes what a space runs.
type Template struct {
	Meta
	Name         string       `json:"name"`
	Description  string       `json:"description"`
	Kind         TemplateKind `json:"kind"`
	Spec         string       `json:"spec"`
	Volumes      string       `json:"volumes,omitempty"`
	Groups       []string     `json:"groups"`
	Locations    []string     `json:"locations"`
	ComputeUnits int          `json:"compute_units"`
	StorageUnits int          `json:"storage_units"`
	// NoTerminal refuses terminals into the template's spaces (the web
	// terminal, knot space shell and exec); NoSSH refuses SSH (knot
	// forward ssh, and ssh through knot ssh-config). The API shows them
	// the other way round, as with_terminal and with_ssh. Their zero
	// value, which every template stored before they existed holds,
	// allows both. The server that opens the way decides, so they are
	// not part of Hash: a space need not restart when they change.
	NoTerminal bool `json:"no_terminal,omitempty"`
	NoSSH      bool `json:"no_ssh,omitempty"`
	// HTTPPorts are served as web apps; they are not part of Hash, as a
	// space need not restart to be served on another port.
	HTTPPorts []HTTPPort `json:"http_ports,omitempty"`
	Hash      string     `json:"hash"`
}

func (*Template) RecordKind() Kind { return KindTemplate }

func (t *Template) UniqueKeys() []string { return []string{"name:" + strings.ToLower(t.Name)} }

// ComputeHash returns the hash of everything that changes what a space of
// this template runs. A space deployed with another hash has an update.
func (t *Template) ComputeHash() string {
	h := sha256.New()
	for _, s := range []string{string(t.Kind), t.Spec, t.Volumes} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// AllowsTerminal reports whether terminals may open into the template's
// spaces.
func (t *Template) AllowsTerminal() bool { return !t.NoTerminal }

// AllowsSSH reports whether SSH connections may open to the template's
// spaces.
func (t *Template) AllowsSSH() bool { return !t.NoSSH }

// UsableBy reports whether a user in groups may use the template: a template
// with no groups is open to everyone.
func (t *Template) UsableBy(groups []string) bool {
	if len(t.Groups) == 0 {
		return true
	}
	for _, g := range t.Groups {
		for _, ug := range groups {
			if g == ug {
				return true
			}
		}
	}
	return false
}

// TemplateVar is a variable available to templates as .var.NAME. A protected
// variable's Value holds ciphertext sealed with server.encrypt; it is never
// returned by the API. Location "" means every location. Local variables never
// leave the server that holds them; restricted ones never reach restricted
// leaves.
type TemplateVar struct {
	Meta
	Name       string `json:"name"`
	Location   string `json:"location"`
	Value      string `json:"value"`
	Protected  bool   `json:"protected"`
	Local      bool   `json:"local"`
	Restricted bool   `json:"restricted"`
}

func (*TemplateVar) RecordKind() Kind { return KindTemplateVar }

func (v *TemplateVar) UniqueKeys() []string {
	return []string{"name:" + v.Name + "@" + strings.ToLower(v.Location)}
}

// TemplateService manages templates. Every method acts for the actor in ctx
// (ActorFrom) and fails with EUNAUTHORIZED when there is none. An origin
// implements it over its store; a leaf reads its replica and leaves writes
// to the origin.
type TemplateService interface {
	// List returns the templates the actor may use (UsableBy their groups),
	// or every one with Manage Templates, ordered by id, each with the
	// number of spaces made from it; o selects among them
	// (SelectTemplates). EINVALID for options out of range.
	List(ctx context.Context, o ListOptions) (Page[*TemplateUsage], error)

	// Get returns the template with id and its usage. EFORBIDDEN without
	// Manage Templates; ENOTFOUND if there is none.
	Get(ctx context.Context, id string) (*TemplateUsage, error)

	// Create stores t as a new template and sets its id, hash and
	// timestamps. EFORBIDDEN without Manage Templates; EINVALID when the
	// name or kind is missing or a field is invalid (a group that does not
	// exist, a location, a quota out of range, a spec the runtime refuses);
	// ETOOLARGE when the spec or volumes are over 1 MiB; ECONFLICT when
	// another template has the name (case-insensitive); EUNAVAILABLE when
	// the write cannot reach the origin.
	Create(ctx context.Context, t *Template) error

	// Update changes the fields of the template with id that upd sets, and
	// its hash, and returns the template as stored. EFORBIDDEN without
	// Manage Templates; ENOTFOUND if there is none; EINVALID, ETOOLARGE and
	// ECONFLICT as Create; EUNAVAILABLE when the write cannot reach the
	// origin.
	Update(ctx context.Context, id string, upd TemplateUpdate) (*Template, error)

	// Delete deletes the template with id and returns it as it was.
	// EFORBIDDEN without Manage Templates; ENOTFOUND if there is none;
	// ELOCKED while spaces use it (the check and the delete are one
	// transaction); EUNAVAILABLE when the write cannot reach the origin.
	Delete(ctx context.Context, id string) (*Template, error)
}

// TemplateUpdate holds the fields of a template an update sets; nil leaves
// a field as it is.
type TemplateUpdate struct {
	Name         *string
	Description  *string
	Kind         *TemplateKind
	Spec         *string
	Volumes      *string
	Groups       *[]string
	Locations    *[]string
	ComputeUnits *int
	StorageUnits *int
	// WithTerminal and WithSSH allow (true) or refuse (false) terminals
	// and SSH: they set NoTerminal and NoSSH to their opposite.
	WithTerminal *bool
	WithSSH      *bool
	HTTPPorts    *[]HTTPPort
}

// TemplateUsage is a template with the number of spaces made from it and
// how many of those are deployed.
type TemplateUsage struct {
	*Template
	Spaces   int
	Deployed int
}

// UsageOf returns t with the number of spaces among spaces made from it.
func UsageOf(t *Template, spaces []*Space) *TemplateUsage {
	u := &TemplateUsage{Template: t}
	for _, sp := range spaces {
		if sp.TemplateID == t.ID {
			u.Spaces++
			if sp.Deployed() {
				u.Deployed++
			}
		}
	}
	return u
}

// TemplatesFor returns the templates of ts that a may list (UsableBy their
// groups, or all with Manage Templates), ordered by id, with their usage
// among spaces.
func TemplatesFor(a *Actor, ts []*Template, spaces []*Space) []*TemplateUsage {
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(x, y *Template) int { return strings.Compare(x.ID, y.ID) })
	all := a.Can(PermManageTemplates)
	byTemplate := map[string][]*Space{}
	for _, sp := range spaces {
		byTemplate[sp.TemplateID] = append(byTemplate[sp.TemplateID], sp)
	}
	out := make([]*TemplateUsage, 0, len(ts))
	for _, t := range ts {
		if all || t.UsableBy(a.User.Groups) {
			out = append(out, UsageOf(t, byTemplate[t.ID]))
		}
	}
	return out
}

// HTTPPort is a port of a template's spaces that knot serves as a web app
// (web/webapps.go), by its number, with a name to show.
type HTTPPort struct {
	Port int    `json:"port"`
	Name string `json:"name"`
}

// MaxHTTPPorts bounds the web ports of a template.
const MaxHTTPPorts = 32

var httpPortName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$`)

// CheckHTTPPorts checks a template's web ports: at most MaxHTTPPorts,
// each a port from 1 to 65535 once, with a name of 1 to 64 letters,
// digits, spaces, '.', '_' or '-'.
func CheckHTTPPorts(ports []HTTPPort) error {
	if len(ports) > MaxHTTPPorts {
		return Errorf(EINVALID, "http_ports: at most %d, not %d", MaxHTTPPorts, len(ports))
	}
	seen := map[int]bool{}
	for _, p := range ports {
		switch {
		case p.Port < 1 || p.Port > 65535:
			return Errorf(EINVALID, "http_ports: port must be from 1 to 65535, not %d", p.Port)
		case seen[p.Port]:
			return Errorf(EINVALID, "http_ports: port %d is given twice", p.Port)
		case !httpPortName.MatchString(p.Name):
			return Errorf(EINVALID, "http_ports: the name of port %d must be 1 to 64 letters, digits, spaces, '.', '_' or '-', not %q", p.Port, p.Name)
		}
		seen[p.Port] = true
	}
	return nil
}

// WebPort returns the web port of t with number port.
func (t *Template) WebPort(port int) (HTTPPort, bool) {
	for _, p := range t.HTTPPorts {
		if p.Port == port {
			return p, true
		}
	}
	return HTTPPort{}, false
}

// SpecError is an EINVALID error at a place in a template's spec or
// volume definition, which an editor can mark. Its message (Err's) names
// the line too, for those who read only the text.
type SpecError struct {
	// Field is the template field with the error: "spec" or "volumes".
	Field string
	// Line and Column are where the error is, counted from 1; 0 means not
	// known.
	Line, Column int
	// Err is the coded error, EINVALID.
	Err *Error
}

func (e *SpecError) Error() string { return e.Err.Error() }

// Unwrap returns the coded error, so that ErrorCode and ErrorMessage read
// it.
func (e *SpecError) Unwrap() error { return e.Err }
