package leaf

// The web apps of spaces at other locations on this server's wildcard
// domain. USER--SPACE--PORT names no location, and space names are unique
// per user and location: the space of this server's location wins; else
// the user's one space of that name at another location, whose web app is
// then relayed to its leaf as the path proxy's is (knot relays rather than
// redirects to that leaf's own wildcard domain: it cannot know that the
// browser reaches that leaf, see streams.go). Several such spaces are a
// conflict, and the answer points to the path proxy, which names the space
// by id. Finding one costs a scan of the space records, so what was found
// is kept for appsElsewhereTTL, found or not.

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

const (
	// appsElsewhereTTL is how long a space found at another location by
	// its app host (or none) is kept.
	appsElsewhereTTL = 10 * time.Second
	// maxAppsElsewhere bounds the entries kept.
	maxAppsElsewhere = 4096
)

// appsElsewhere remembers the spaces of other locations found by their app
// hosts. The zero value is ready for use; it is safe for concurrent use.
type appsElsewhere struct {
	mu    sync.Mutex
	found map[string]appElsewhere // by user id and lower-case name; guarded by mu
}

type appElsewhere struct {
	spaceID string // "" for none
	err     error  // the conflict, if any
	until   time.Time
}

// spaceElsewhere returns u's space name of a location other than here.
func (a *appsElsewhere) spaceElsewhere(ctx context.Context, st storage.Reader, here string, u *shared.User, name string) (*shared.Space, error) {
	notFound := shared.Errorf(shared.ENOTFOUND, "space %s of user %s not found", quote(name), quote(u.Username))
	key := u.ID + "/" + strings.ToLower(name)
	now := time.Now()
	a.mu.Lock()
	e, ok := a.found[key]
	a.mu.Unlock()
	if ok && now.Before(e.until) {
		if e.err != nil {
			return nil, e.err
		}
		if e.spaceID == "" {
			return nil, notFound
		}
		sp, err := storage.Get[shared.Space](ctx, st, e.spaceID)
		if err == nil && sp.UserID == u.ID && strings.EqualFold(sp.Name, name) && sp.Location != here {
			return sp, nil
		}
	}
	all, err := storage.ListWhere(ctx, st, func(sp *shared.Space) bool {
		return sp.UserID == u.ID && sp.Location != here && strings.EqualFold(sp.Name, name)
	})
	if err != nil {
		return nil, err
	}
	e = appElsewhere{until: now.Add(appsElsewhereTTL)}
	var out *shared.Space
	switch len(all) {
	case 0:
		err = notFound
	case 1:
		out, e.spaceID = all[0], all[0].ID
	default:
		locs := make([]string, 0, len(all))
		for _, sp := range all {
			locs = append(locs, sp.Location)
		}
		slices.Sort(locs)
		err = shared.Errorf(shared.ECONFLICT, "user %s has a space %s at each of the locations %s: open its web app at /proxy/spaces/{space_id}/ports/{port}/, which names the space by its id",
			quote(u.Username), quote(name), strings.Join(locs, ", "))
		e.err = err
	}
	a.mu.Lock()
	if a.found == nil || len(a.found) >= maxAppsElsewhere {
		a.found = map[string]appElsewhere{}
	}
	a.found[key] = e
	a.mu.Unlock()
	return out, err
}
