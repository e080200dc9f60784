package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// renderSpace renders the spec and the volume definition of tmpl for s:
// with its owner, this server and this location's variables. A protected
// variable that did not open fails with the reason it did not.
func (m *Manager) renderSpace(ctx context.Context, s *shared.Space, tmpl *shared.Template) (user *shared.User, spec, volumes string, err error) {
	cctx, cancel := m.call(ctx)
	user, err = m.records.GetUser(cctx, s.UserID)
	cancel()
	if err != nil {
		if shared.ErrorCode(err) == shared.ENOTFOUND {
			err = shared.Errorf(shared.EINVALID, "the owner of space %q does not exist", s.Name)
		}
		return nil, "", "", err
	}
	vars, sealed, err := m.templateVars(ctx)
	if err != nil {
		return nil, "", "", err
	}
	data := &RenderData{Space: s, User: user, Template: tmpl, Server: m.server, Nomad: m.nomadInfo, Vars: vars}
	label := fmt.Sprintf("template %q", tmpl.Name)
	spec, err = Render(label, tmpl.Spec, data)
	if err != nil {
		return nil, "", "", explainSealed(err, sealed)
	}
	if strings.TrimSpace(tmpl.Volumes) != "" {
		if volumes, err = Render(label+" volumes", tmpl.Volumes, data); err != nil {
			return nil, "", "", explainSealed(err, sealed)
		}
	}
	return user, spec, volumes, nil
}

// templateVars returns the variables for this location, protected ones
// opened, and the errors of the protected ones that did not open.
func (m *Manager) templateVars(ctx context.Context) (map[string]string, map[string]error, error) {
	cctx, cancel := m.call(ctx)
	all, err := m.records.ListTemplateVars(cctx)
	cancel()
	if err != nil {
		return nil, nil, err
	}
	vars, sealed := FilterVars(all, m.server.Location, m.sealer)
	return vars, sealed, nil
}

// FilterVars returns the template variables that apply at location, by
// name: a variable for every location ("") is overridden by one for this
// location, which is overridden by a local one. Protected values are opened
// with sealer; those that cannot be opened (no sealer, wrong key) are left
// out and returned in failed, so that only a template that uses one fails.
func FilterVars(all []*shared.TemplateVar, location string, sealer *crypt.Sealer) (vars map[string]string, failed map[string]error) {
	vars = map[string]string{}
	failed = map[string]error{}
	rank := map[string]int{}
	for _, v := range all {
		if v.Location != "" && !strings.EqualFold(v.Location, location) {
			continue
		}
		r := 0
		if v.Location != "" {
			r = 1
		}
		if v.Local {
			r = 2
		}
		if prev, ok := rank[v.Name]; ok && prev > r {
			continue
		}
		rank[v.Name] = r
		value := v.Value
		if v.Protected {
			switch {
			case sealer == nil:
				delete(vars, v.Name)
				failed[v.Name] = shared.Errorf(shared.EINVALID, "variable %s is protected and this server has no encryption key (server.encrypt)", v.Name)
				continue
			default:
				pt, err := sealer.Open(v.Value)
				if err != nil {
					delete(vars, v.Name)
					failed[v.Name] = shared.Wrap(shared.EINVALID, err, "variable %s does not open with this server's encryption key", v.Name)
					continue
				}
				value = pt
			}
		}
		delete(failed, v.Name)
		vars[v.Name] = value
	}
	return vars, failed
}

// explainSealed replaces "X is not defined" for a protected variable that
// did not open with the reason it did not.
func explainSealed(err error, sealed map[string]error) error {
	if len(sealed) == 0 {
		return err
	}
	var missing *MissingVarError
	if errors.As(err, &missing) {
		if e, ok := sealed[missing.Name]; ok {
			return e
		}
	}
	return err
}
