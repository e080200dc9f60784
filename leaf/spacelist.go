package leaf

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// spaceLists keeps the decoded spaces, users and templates for as long as
// the store has not changed. "Not changed" is decided by a token made of
// the store's head (epoch and revision, which every Put and Delete
// advances) and its replica state (which every Apply of an origin's feed
// advances), read before the records are listed. When the token moves, the
// records are listed again, but only records whose revision or bytes differ
// are decoded again. The zero value is ready for use.
type spaceLists struct {
	mu        sync.Mutex
	list      *shared.SpaceList                           // guarded by mu
	spaces    recCache[shared.Space, *shared.Space]       // guarded by mu
	users     recCache[shared.User, *shared.User]         // guarded by mu
	templates recCache[shared.Template, *shared.Template] // guarded by mu
	orders    shared.Orders[*shared.Space]                // list's spaces by sort key
}

func readToken(ctx context.Context, st storage.Store) (string, error) {
	h, err := st.Head(ctx)
	if err != nil {
		return "", err
	}
	e, a, err := st.Replica(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s/%d/%s/%d", h.Epoch, h.Revision, e, a), nil
}

// get returns a list of every space of st no older than the moment of the
// call.
func (c *spaceLists) get(ctx context.Context, st storage.Store) (*shared.SpaceList, error) {
	tok, err := readToken(ctx, st)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.list != nil && c.list.Version == tok {
		return c.list, nil
	}
	spaces, err := c.spaces.load(ctx, st)
	if err != nil {
		return nil, err
	}
	users, err := c.users.load(ctx, st)
	if err != nil {
		return nil, err
	}
	templates, err := c.templates.load(ctx, st)
	if err != nil {
		return nil, err
	}
	l := &shared.SpaceList{Version: tok, Spaces: spaces,
		Users: make(map[string]*shared.User, len(users)), Templates: make(map[string]*shared.Template, len(templates))}
	for _, u := range users {
		l.Users[u.ID] = u
	}
	for _, t := range templates {
		l.Templates[t.ID] = t
	}
	c.list = l
	return l, nil
}

type recEntry[P any] struct {
	rev  int64
	data []byte
	val  P
}

// recCache keeps the decoded records of one kind by id.
type recCache[T any, P storage.RecordPtr[T]] struct {
	m map[string]recEntry[P]
}

// load lists the records and decodes those that changed since the last load.
func (c *recCache[T, P]) load(ctx context.Context, st storage.Store) ([]P, error) {
	kind := P(new(T)).RecordKind()
	cs, err := st.List(ctx, kind)
	if err != nil {
		return nil, err
	}
	next := make(map[string]recEntry[P], len(cs))
	out := make([]P, 0, len(cs))
	for _, ch := range cs {
		e, ok := c.m[ch.ID]
		if !ok || e.rev != ch.Revision || !bytes.Equal(e.data, ch.Data) {
			v, err := storage.Decode[T, P](ch)
			if err != nil {
				return nil, err
			}
			e = recEntry[P]{rev: ch.Revision, data: ch.Data, val: v}
		}
		next[ch.ID] = e
		out = append(out, e.val)
	}
	c.m = next
	return out, nil
}

// spaceSortKeys are the orders a space list offers.
var spaceSortKeys = []string{"created", "location", "name", "owner", "state", "template"}

// spaceSorts returns the comparisons of spaceSortKeys over v's records.
// Spaces that tie on the key go by name, then owner, location and id, so
// that a page holds the same spaces in the same order each time.
func spaceSorts(v *shared.SpaceList) shared.Sorts[*shared.Space] {
	ties := func(a, b *shared.Space) int {
		return cmp.Or(shared.ByText(a.Name, b.Name), shared.ByText(ownerName(v, a), ownerName(v, b)),
			shared.ByText(a.Location, b.Location), cmp.Compare(a.ID, b.ID))
	}
	by := func(key func(a, b *shared.Space) int) func(a, b *shared.Space) int {
		return func(a, b *shared.Space) int { return cmp.Or(key(a, b), ties(a, b)) }
	}
	return shared.Sorts[*shared.Space]{
		"name":     ties,
		"created":  by(func(a, b *shared.Space) int { return shared.ByTime(a.CreatedAt, b.CreatedAt) }),
		"state":    by(func(a, b *shared.Space) int { return stateOrder(a.State) - stateOrder(b.State) }),
		"location": by(func(a, b *shared.Space) int { return shared.ByText(a.Location, b.Location) }),
		"owner":    by(func(a, b *shared.Space) int { return shared.ByText(ownerName(v, a), ownerName(v, b)) }),
		"template": by(func(a, b *shared.Space) int { return shared.ByText(templateName(v, a), templateName(v, b)) }),
	}
}

func stateOrder(st shared.SpaceState) int { return slices.Index(shared.SpaceStates, st) }

func ownerName(v *shared.SpaceList, sp *shared.Space) string {
	if u := v.Users[sp.UserID]; u != nil {
		return u.Username
	}
	return ""
}

func templateName(v *shared.SpaceList, sp *shared.Space) string {
	if t := v.Templates[sp.TemplateID]; t != nil {
		return t.Name
	}
	return ""
}

// ordered returns every space of v in the order key names, sorted once
// per list and key.
func (c *spaceLists) ordered(v *shared.SpaceList, key string) []*shared.Space {
	return c.orders.Get(v, key, func() []*shared.Space {
		out := slices.Clone(v.Spaces)
		shared.SortBy(out, key, spaceSorts(v))
		return out
	})
}

// selectSpaces returns the spaces of v that userID owns ("" for every
// user's) and o selects, with their total and the count per state.
func (c *spaceLists) selectSpaces(v *shared.SpaceList, userID string, o shared.ListOptions) (*shared.SpaceList, error) {
	if err := o.Check(spaceSortKeys); err != nil {
		return nil, err
	}
	if o.State != "" && !shared.SpaceState(o.State).Valid() {
		return nil, shared.Errorf(shared.EINVALID, "state must be one of %s, not %s", joinStates(), quote(o.State))
	}
	order := v.Spaces
	if o.Sort != "" {
		order = c.ordered(v, o.Sort)
	}
	out := *v
	out.States = make(map[shared.SpaceState]int, len(shared.SpaceStates))
	sel := order
	narrowed := userID != "" || o.State != "" || o.Location != "" || o.Owner != "" || o.Query != ""
	if narrowed {
		sel = make([]*shared.Space, 0, len(order))
	}
	for _, sp := range order {
		if (userID != "" && sp.UserID != userID) ||
			(o.Location != "" && !strings.EqualFold(sp.Location, o.Location)) ||
			(o.Owner != "" && sp.UserID != o.Owner && !strings.EqualFold(ownerName(v, sp), o.Owner)) ||
			(o.Query != "" && !o.Match(sp.Name, sp.Description, ownerName(v, sp), templateName(v, sp))) {
			continue
		}
		out.States[sp.State]++
		if narrowed && (o.State == "" || string(sp.State) == o.State) {
			sel = append(sel, sp)
		}
	}
	page, err := shared.Select(sel, shared.ListOptions{Limit: o.Limit, Offset: o.Offset}, nil, nil)
	if err != nil {
		return nil, err
	}
	out.Spaces, out.Total = page.Items, page.Total
	return &out, nil
}

func joinStates() string {
	names := make([]string, len(shared.SpaceStates))
	for i, st := range shared.SpaceStates {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}
