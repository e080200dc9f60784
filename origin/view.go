package origin

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

// view decides what one leaf sees of the origin's records.
//
// A trusted view is a filter on each record alone. A restricted view also
// depends on its owner's user record (groups and roles); the link keeps the
// owner as the leaf holds it and re-evaluates the records that depend on it
// when it changes. The rules keep a restricted leaf from ever receiving a
// record of another user: tombstones carry only a kind and an id, and are
// sent for the kinds whose visibility can change (templates, variables,
// groups and roles) and for spaces, whose owner a tombstone does not tell,
// but not for other users or their live API tokens. A token is assumed
// never to change owner.
//
// A view with spaces (a leaf on protocol 3 or later) also holds the spaces
// of every location, a restricted one its owner's, without their agent
// token hash: the leaf that owns a space is the only one its agent talks
// to. A leaf receives its own location's spaces too, so that every trusted
// leaf shares one view, and ignores them. A space is assumed never to
// change owner or location.
type view struct {
	restricted bool
	spaces     bool
	owner      *shared.User // restricted: the owner the leaf's view follows
	location   string       // restricted: the leaf's location
}

// carries reports whether records of kind k are in the view at all.
func (v *view) carries(k shared.Kind) bool {
	return k.OriginOwned() || v.spaces && k == shared.KindSpace
}

// show returns c as the leaf sees it, or false when it is not in the view.
// c is a live record of an origin-owned kind.
func (v *view) show(c shared.Change) (wire.Change, bool, error) {
	if !v.restricted && c.Kind != shared.KindTemplateVar && c.Kind != shared.KindSpace {
		// A trusted view holds every record of the other kinds as it is:
		// there is nothing to decode.
		return wire.FromShared(c), true, nil
	}
	rec := shared.NewRecord(c.Kind)
	if err := json.Unmarshal(c.Data, rec); err != nil {
		return wire.Change{}, false, shared.Wrap(shared.EINTERNAL, err, "origin: decode %s %s", c.Kind, c.ID)
	}
	if tv, ok := rec.(*shared.TemplateVar); ok {
		if tv.Local || v.restricted && (tv.Protected || tv.Restricted || !v.scoped(tv)) {
			return wire.Change{}, false, nil
		}
		return wire.FromShared(c), true, nil
	}
	if sp, ok := rec.(*shared.Space); ok {
		if !v.spaces || v.restricted && sp.UserID != v.owner.ID {
			return wire.Change{}, false, nil
		}
		sp.AgentTokenHash = ""
		data, err := json.Marshal(sp)
		if err != nil {
			return wire.Change{}, false, shared.Wrap(shared.EINTERNAL, err, "origin: encode space %s", sp.ID)
		}
		return wire.Change{Kind: c.Kind, ID: c.ID, Revision: c.Revision, Data: data}, true, nil
	}
	if !v.restricted {
		return wire.FromShared(c), true, nil
	}
	o := v.owner
	switch r := rec.(type) {
	case *shared.User:
		if r.ID != o.ID {
			return wire.Change{}, false, nil
		}
		// A restricted leaf holds no login secrets; its owner logs in at the
		// origin. The service password stays: the owner's spaces use it.
		r.PasswordHash, r.TOTPSecret, r.TOTPLastStep = "", "", 0
		data, err := json.Marshal(r)
		if err != nil {
			return wire.Change{}, false, shared.Wrap(shared.EINTERNAL, err, "origin: encode user %s", r.ID)
		}
		return wire.Change{Kind: c.Kind, ID: c.ID, Revision: c.Revision, Data: data}, true, nil
	case *shared.Group:
		return wire.FromShared(c), slices.Contains(o.Groups, r.ID), nil
	case *shared.Role:
		return wire.FromShared(c), slices.Contains(o.Roles, r.ID), nil
	case *shared.Token:
		return wire.FromShared(c), r.UserID == o.ID, nil
	case *shared.Template:
		return wire.FromShared(c), r.UsableBy(o.Groups), nil
	}
	return wire.Change{}, false, nil
}

// scoped reports whether variable tv applies at the view's location: it is
// unscoped, or scoped to that location. A restricted view holds no other
// location's variables; a trusted view holds them all, since trusted
// leaves share one view.
func (v *view) scoped(tv *shared.TemplateVar) bool {
	return tv.Location == "" || strings.EqualFold(tv.Location, v.location)
}

// filter returns what the leaf gets for one change of the feed: the record,
// a tombstone, or nothing (false).
func (v *view) filter(c shared.Change) (wire.Change, bool, error) {
	if !v.carries(c.Kind) {
		return wire.Change{}, false, nil
	}
	tomb := wire.Change{Kind: c.Kind, ID: c.ID, Revision: c.Revision, Deleted: true}
	if c.Deleted {
		if v.restricted && c.Kind == shared.KindUser && c.ID != v.owner.ID {
			return wire.Change{}, false, nil
		}
		return tomb, true, nil
	}
	out, ok, err := v.show(c)
	if err != nil || ok {
		return out, ok, err
	}
	if v.restricted {
		switch c.Kind {
		case shared.KindTemplate, shared.KindTemplateVar:
			return tomb, true, nil
		}
		// Other users, their tokens and their spaces never were in the
		// view; groups and roles outside the owner's were not either, as
		// long as the owner did not change (and then reevaluate covers
		// them).
		return wire.Change{}, false, nil
	}
	return tomb, true, nil
}

// ownerDependent lists the kinds whose visibility in a restricted view
// follows its owner's groups and roles.
var ownerDependent = []shared.Kind{shared.KindGroup, shared.KindRole, shared.KindTemplate}

// reevaluate returns, after the owner changed, the owner-dependent records
// of the view (templates, groups, roles) and a tombstone for each one out of
// it. It goes with the page of the feed that ends at revision after, but
// lists the store as it is now: a record deleted since is not listed while
// the leaf may still hold it, so reevaluate also returns a tombstone for
// each record of those kinds deleted after that revision (the page that
// holds its deletion brings it again later). When a compaction took such
// tombstones, the leaf must start over with a snapshot.
func (v *view) reevaluate(ctx context.Context, s storage.Store, after int64) ([]wire.Change, error) {
	var out []wire.Change
	for _, k := range ownerDependent {
		cs, err := s.List(ctx, k)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			w, ok, err := v.show(c)
			if err != nil {
				return nil, err
			}
			if !ok {
				w = wire.Change{Kind: c.Kind, ID: c.ID, Revision: c.Revision, Deleted: true}
			}
			out = append(out, w)
		}
	}
	for from := after; ; {
		cs, err := s.Changes(ctx, from, pageSize)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if c.Deleted && slices.Contains(ownerDependent, c.Kind) {
				out = append(out, wire.Change{Kind: c.Kind, ID: c.ID, Revision: c.Revision, Deleted: true})
			}
		}
		if len(cs) < pageSize {
			break
		}
		from = cs[len(cs)-1].Revision
	}
	// A compaction since may have taken some of those tombstones.
	head, err := s.Head(ctx)
	if err != nil {
		return nil, err
	}
	if head.Horizon > after {
		return nil, closeWith(wire.CloseStartOver, "the leaf fell behind the origin's tombstone horizon; reconnect for a snapshot")
	}
	return out, nil
}

// kinds lists the kinds in the view, in the order a snapshot sends them.
func (v *view) kinds() []shared.Kind {
	var ks []shared.Kind
	for _, k := range shared.Kinds {
		if v.carries(k) {
			ks = append(ks, k)
		}
	}
	return ks
}
