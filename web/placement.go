package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

// locationAuto asks the server to choose a space's location.
const locationAuto = "auto"

// commandTimeout bounds a command to a leaf, and remoteWait how long the
// origin waits for the leaf's report of its result before it answers.
const (
	commandTimeout = 2 * time.Minute
	remoteWait     = 5 * time.Second
)

// runtimesFor returns the runtimes that run templates of kind; nil for a
// manual template, which needs none.
func runtimesFor(kind shared.TemplateKind) []string {
	switch kind {
	case shared.TemplateContainer:
		return []string{"docker", "podman"}
	case shared.TemplateNomad:
		return []string{"nomad"}
	}
	return nil
}

// runs reports whether a server with runtimes can run templates of kind.
func runs(runtimes []string, kind shared.TemplateKind) bool {
	need := runtimesFor(kind)
	if need == nil {
		return true
	}
	for _, r := range runtimes {
		if slices.Contains(need, r) {
			return true
		}
	}
	return false
}

// spaceLocation settles the location of a new space of template t from the
// requested one: "" is this server's location, "auto" (on an origin) the
// location that runs t's kind with the fewest running spaces.
func (s *Server) spaceLocation(ctx context.Context, requested string, t *shared.Template) (string, error) {
	switch {
	case requested == "":
		return s.location, nil
	case s.leaf != nil:
		if requested == locationAuto || requested == s.location {
			return s.location, nil
		}
		return "", invalid("location: this leaf runs the spaces of location %s only; create spaces of %s at that location's leaf or at the origin",
			quote(s.location), quote(requested))
	case requested == locationAuto:
		return s.place(ctx, t)
	case requested != s.location && s.hub == nil:
		return "", invalid("location: this server has no leaves and runs only location %s", quote(s.location))
	}
	return requested, nil
}

// place chooses the location of a new space of t: among this origin's own
// location and its connected leaves (not restricted ones), those that run
// t's kind, speak a protocol that creates spaces, and are allowed by t's
// locations, the one with the fewest running spaces (this server's own
// first on a tie, then by name).
func (s *Server) place(ctx context.Context, t *shared.Template) (string, error) {
	type candidate struct {
		location string
		running  int
	}
	var cands []candidate
	allowed := func(loc string) bool { return len(t.Locations) == 0 || slices.Contains(t.Locations, loc) }
	if runs(s.runtimes, t.Kind) && allowed(s.location) {
		cands = append(cands, candidate{location: s.location})
	}
	if s.hub != nil {
		for _, in := range s.hub.Leaves() {
			if in.Connected && !in.Restricted && in.Protocol >= 2 && in.Location != s.location &&
				runs(in.Runtimes, t.Kind) && allowed(in.Location) {
				cands = append(cands, candidate{location: in.Location})
			}
		}
	}
	if len(cands) == 0 {
		need := "a connected leaf"
		if rts := runtimesFor(t.Kind); rts != nil {
			need += " with " + strings.Join(rts, " or ")
		}
		if len(t.Locations) > 0 {
			need += " in " + strings.Join(t.Locations, ", ")
		}
		return "", shared.Errorf(shared.EUNAVAILABLE, "location auto: no location can run template %s now: it needs %s", quote(t.Name), need)
	}
	v, err := s.lists.get(ctx, s.store)
	if err != nil {
		return "", err
	}
	running := map[string]int{}
	for _, sp := range v.spaces {
		if sp.Deployed() {
			running[sp.Location]++
		}
	}
	for i := range cands {
		cands[i].running = running[cands[i].location]
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.running != b.running {
			return a.running < b.running
		}
		if own := a.location == s.location; own != (b.location == s.location) {
			return own
		}
		return a.location < b.location
	})
	return cands[0].location, nil
}

// remote reports whether sp belongs to another location than this
// server's: on an origin, to one of its leaves; on a leaf, to another leaf
// or the origin, whose feed brings the space's record.
func (s *Server) remote(sp *shared.Space) bool {
	return sp.Location != s.location
}

// viaOrigin forwards a request to start, stop or delete sp to the origin,
// which asks sp's leaf, when this server is a leaf and sp belongs to another
// location. It reports whether it took the request.
func (s *Server) viaOrigin(w http.ResponseWriter, r *http.Request, sp *shared.Space) (bool, error) {
	if s.leaf == nil || !s.remote(sp) {
		return false, nil
	}
	return true, s.forwardTo(w, r)
}

// createRemote asks the leaf of sp's location to create sp, then waits a
// little for the leaf's report of it.
func (s *Server) createRemote(ctx context.Context, sp *shared.Space) error {
	if _, err := s.store.Lookup(ctx, shared.KindSpace, sp.UniqueKeys()[0]); err == nil {
		return shared.Errorf(shared.ECONFLICT, "this user already has a space named %s at location %s", quote(sp.Name), quote(sp.Location))
	} else if !isCode(err, shared.ENOTFOUND) {
		return err
	}
	data, err := json.Marshal(sp)
	if err != nil {
		return shared.Wrap(shared.EINTERNAL, err, "encode space %s", sp.ID)
	}
	if err := s.command(ctx, sp, wire.Command{Action: wire.ActionCreate, SpaceID: sp.ID, Space: data}); err != nil {
		return err
	}
	s.awaitReport(ctx, sp.ID, func(cur *shared.Space) bool { return cur != nil })
	return nil
}

// act starts, stops or deletes sp: on this server through its
// SpaceController, or, for a space of another location on an origin, by a
// command to that location's leaf, whose report of the result the origin
// then awaits for a moment.
func (s *Server) act(ctx context.Context, sp *shared.Space, action string) error {
	if s.hub == nil && s.remote(sp) {
		return shared.Errorf(shared.ECONFLICT, "space %s runs at location %s, not here (%s)", quote(sp.Name), quote(sp.Location), quote(s.location))
	}
	if !s.remote(sp) {
		switch action {
		case wire.ActionStart:
			return s.spaces.Start(ctx, sp.ID)
		case wire.ActionStop:
			return s.spaces.Stop(ctx, sp.ID)
		default:
			return s.spaces.Delete(ctx, sp.ID)
		}
	}
	if err := s.command(ctx, sp, wire.Command{Action: action, SpaceID: sp.ID}); err != nil {
		return err
	}
	s.awaitReport(ctx, sp.ID, func(cur *shared.Space) bool {
		switch action {
		case wire.ActionStart:
			return cur != nil && (cur.Deployed() || cur.State == shared.SpaceFailed)
		case wire.ActionStop:
			return cur != nil && (cur.State == shared.SpaceStopped || cur.State == shared.SpaceFailed)
		}
		return cur == nil
	})
	return nil
}

// command sends cmd to the leaf of sp's location and returns the leaf's
// answer: its own error as it is, EUNAVAILABLE when the leaf is not
// connected or does not answer in time.
func (s *Server) command(ctx context.Context, sp *shared.Space, cmd wire.Command) error {
	connected := false
	for _, in := range s.hub.Leaves() {
		connected = connected || (in.Connected && in.Location == sp.Location)
	}
	if !connected {
		return shared.Errorf(shared.EUNAVAILABLE, "space %s runs at location %s, whose leaf is not connected to this origin: try again when it is",
			quote(sp.Name), quote(sp.Location))
	}
	cctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	err := s.hub.Command(cctx, sp.Location, cmd)
	if errors.Is(err, context.DeadlineExceeded) {
		return shared.Wrap(shared.EUNAVAILABLE, err, "the leaf of location %s did not answer in %s about space %s", quote(sp.Location), commandTimeout, quote(sp.Name))
	}
	return err
}

// awaitReport waits, at most remoteWait, until the origin's copy of space
// id (nil when it is gone) satisfies done.
func (s *Server) awaitReport(ctx context.Context, id string, done func(*shared.Space) bool) {
	deadline := time.Now().Add(remoteWait)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		cur, err := storage.Get[shared.Space](ctx, s.store, id)
		if err != nil && !isCode(err, shared.ENOTFOUND) {
			return
		}
		if done(cur) || time.Now().After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
