package runtimetest

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
)

// Records is an in-memory runtime.Records with the store's revision
// semantics: every write gets the next revision, and PutSpace compares the
// revision it is given with the stored one. Records are copied in and out,
// so callers never share memory with it. The zero value is not usable; use
// NewRecords.
type Records struct {
	mu        sync.Mutex
	rev       int64                       // guarded by mu
	spaces    map[string]*shared.Space    // guarded by mu
	templates map[string]*shared.Template // guarded by mu
	users     map[string]*shared.User     // guarded by mu
	vars      []*shared.TemplateVar       // guarded by mu
}

var _ runtime.Records = (*Records)(nil)

// NewRecords returns empty records.
func NewRecords() *Records {
	return &Records{spaces: map[string]*shared.Space{}, templates: map[string]*shared.Template{}, users: map[string]*shared.User{}}
}

func clone[T any](v *T) *T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(err)
	}
	return out
}

func (r *Records) next() int64 { r.rev++; return r.rev }

// GetSpace implements runtime.Records.
func (r *Records) GetSpace(_ context.Context, id string) (*shared.Space, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.spaces[id]
	if s == nil {
		return nil, shared.Errorf(shared.ENOTFOUND, "space %s not found", id)
	}
	return clone(s), nil
}

// PutSpace implements runtime.Records: a new space needs Revision 0, an
// existing one the stored Revision.
func (r *Records) PutSpace(_ context.Context, s *shared.Space) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.spaces[s.ID]
	switch {
	case s.ID == "":
		return shared.Errorf(shared.EINVALID, "space has no id")
	case cur == nil && s.Revision != 0:
		return shared.Errorf(shared.ENOTFOUND, "space %s not found", s.ID)
	case cur != nil && cur.Revision != s.Revision:
		return shared.Errorf(shared.ECONFLICT, "space %s changed meanwhile", s.ID)
	}
	s.Revision = r.next()
	r.spaces[s.ID] = clone(s)
	return nil
}

// DeleteSpace implements runtime.Records.
func (r *Records) DeleteSpace(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.spaces[id] == nil {
		return shared.Errorf(shared.ENOTFOUND, "space %s not found", id)
	}
	delete(r.spaces, id)
	r.next()
	return nil
}

// ListSpaces implements runtime.Records.
func (r *Records) ListSpaces(context.Context) ([]*shared.Space, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*shared.Space, 0, len(r.spaces))
	for _, s := range r.spaces {
		out = append(out, clone(s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// GetTemplate implements runtime.Records.
func (r *Records) GetTemplate(_ context.Context, id string) (*shared.Template, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.templates[id]
	if t == nil {
		return nil, shared.Errorf(shared.ENOTFOUND, "template %s not found", id)
	}
	return clone(t), nil
}

// GetUser implements runtime.Records.
func (r *Records) GetUser(_ context.Context, id string) (*shared.User, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	u := r.users[id]
	if u == nil {
		return nil, shared.Errorf(shared.ENOTFOUND, "user %s not found", id)
	}
	return clone(u), nil
}

// ListTemplateVars implements runtime.Records.
func (r *Records) ListTemplateVars(context.Context) ([]*shared.TemplateVar, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*shared.TemplateVar, 0, len(r.vars))
	for _, v := range r.vars {
		out = append(out, clone(v))
	}
	return out, nil
}

// AddUser stores a new active user with username and returns it.
func (r *Records) AddUser(username string) *shared.User {
	r.mu.Lock()
	defer r.mu.Unlock()
	u := &shared.User{Meta: newMeta(r.next()), Username: username, Email: username + "@example.com", Timezone: "UTC", Active: true}
	r.users[u.ID] = clone(u)
	return u
}

// PutTemplate stores t, giving it an id if it has none and its hash.
func (r *Records) PutTemplate(t *shared.Template) *shared.Template {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.ID == "" {
		t.Meta = newMeta(0)
	}
	t.Revision = r.next()
	t.Hash = t.ComputeHash()
	r.templates[t.ID] = clone(t)
	return t
}

// AddSpace stores a new pending space of user on template and returns it.
func (r *Records) AddSpace(user *shared.User, tmpl *shared.Template, name string) *shared.Space {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &shared.Space{Meta: newMeta(r.next()), UserID: user.ID, TemplateID: tmpl.ID, Name: name, Shell: "sh", State: shared.SpacePending}
	r.spaces[s.ID] = clone(s)
	return s
}

// AddVar stores a template variable.
func (r *Records) AddVar(v *shared.TemplateVar) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v.ID == "" {
		v.Meta = newMeta(0)
	}
	v.Revision = r.next()
	r.vars = append(r.vars, clone(v))
}

// Space returns the stored space, or nil.
func (r *Records) Space(id string) *shared.Space {
	s, err := r.GetSpace(context.Background(), id)
	if err != nil {
		return nil
	}
	return s
}

func newMeta(rev int64) shared.Meta {
	now := time.Now().UTC()
	return shared.Meta{ID: uuid.Must(uuid.NewV7()).String(), Revision: rev, CreatedAt: now, UpdatedAt: now}
}
