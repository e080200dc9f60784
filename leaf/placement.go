package leaf

import (
	"context"
	"encoding/json"
	"errors"
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

// Fleet is an origin's view of its leaves, through which its space service
// places spaces at them and acts on their spaces (origin.Hub is one:
// origin and leaf meet through shared's types).
type Fleet interface {
	// Leaves lists the leaf nodes the origin knows.
	Leaves() []shared.LeafNode
	// Command asks the leaf of location to carry out cmd and returns its
	// answer: EUNAVAILABLE when it is not connected or goes away, the
	// leaf's own error otherwise.
	Command(ctx context.Context, location string, cmd wire.Command) error
	// Linked reports whether a leaf of location is connected now.
	Linked(location string) bool
}

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

// location settles the location of a new space of template t from the
// requested one: "" is this server's location, "auto" (on an origin) the
// location that runs t's kind with the fewest running spaces.
func (s *SpaceService) location(ctx context.Context, requested string, t *shared.Template) (string, error) {
	own := s.opts.Location
	switch {
	case requested == "":
		return own, nil
	case s.opts.Uplink != nil:
		if requested == locationAuto || requested == own {
			return own, nil
		}
		return "", invalid("location: this leaf runs the spaces of location %s only; create spaces of %s at that location's leaf or at the origin",
			quote(own), quote(requested))
	case requested == locationAuto:
		return s.place(ctx, t)
	case requested != own && s.opts.Fleet == nil:
		return "", invalid("location: this server has no leaves and runs only location %s", quote(own))
	}
	if _, restricted := shared.LocationOwner(requested); requested != own && !restricted {
		known, err := s.Locations(ctx)
		if err != nil {
			return "", err
		}
		if !slices.ContainsFunc(known, func(l string) bool { return strings.EqualFold(l, requested) }) {
			return "", invalid("location: no leaf of location %s has ever connected to this origin; known: %s",
				quote(requested), strings.Join(known, ", "))
		}
	}
	return requested, nil
}

// Locations returns the locations a new space may name, sorted: this
// server's own and, on an origin, those of its leaves (connected now or
// lately), those where spaces are (whose leaf is away now) and those a
// leaf token is issued for (whose leaf may not have connected yet). A user's
// restricted leaf's location (user:NAME) is its user's only: it is not
// among them.
func (s *SpaceService) Locations(ctx context.Context) ([]string, error) {
	set := map[string]bool{s.opts.Location: true}
	if s.opts.Fleet != nil {
		for _, in := range s.opts.Fleet.Leaves() {
			set[in.Location] = true
		}
		v, err := s.Snapshot(ctx)
		if err != nil {
			return nil, err
		}
		for _, sp := range v.Spaces {
			set[sp.Location] = true
		}
		tokens, err := storage.List[shared.LeafToken](ctx, s.opts.Store)
		if err != nil {
			return nil, err
		}
		for _, t := range tokens {
			set[t.Location] = true
		}
	}
	out := make([]string, 0, len(set))
	for l := range set {
		if _, restricted := shared.LocationOwner(l); l != "" && !restricted {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out, nil
}

// place chooses the location of a new space of t: among this origin's own
// location and its connected leaves (not restricted ones), those that run
// t's kind, speak a protocol that creates spaces, and are allowed by t's
// locations, the one with the fewest running spaces (this server's own
// first on a tie, then by name).
func (s *SpaceService) place(ctx context.Context, t *shared.Template) (string, error) {
	own := s.opts.Location
	allowed := func(loc string) bool { return len(t.Locations) == 0 || slices.Contains(t.Locations, loc) }
	var cands []string
	if runs(s.opts.Runtimes, t.Kind) && allowed(own) {
		cands = append(cands, own)
	}
	if s.opts.Fleet != nil {
		for _, in := range s.opts.Fleet.Leaves() {
			if in.Connected && !in.Restricted && in.Protocol >= 2 && in.Location != own &&
				runs(in.Runtimes, t.Kind) && allowed(in.Location) {
				cands = append(cands, in.Location)
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
	v, err := s.Snapshot(ctx)
	if err != nil {
		return "", err
	}
	running := map[string]int{}
	for _, sp := range v.Spaces {
		if sp.Deployed() {
			running[sp.Location]++
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if running[a] != running[b] {
			return running[a] < running[b]
		}
		if (a == own) != (b == own) {
			return a == own
		}
		return a < b
	})
	return cands[0], nil
}

// createRemote asks the leaf of sp's location to create sp, then waits a
// little for the leaf's report of it.
func (s *SpaceService) createRemote(ctx context.Context, sp *shared.Space) error {
	if _, err := s.opts.Store.Lookup(ctx, shared.KindSpace, sp.UniqueKeys()[0]); err == nil {
		return shared.Errorf(shared.ECONFLICT, "this user already has a space named %s at location %s", quote(sp.Name), quote(sp.Location))
	} else if shared.ErrorCode(err) != shared.ENOTFOUND {
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

// act starts, stops or deletes sp: on this server through the Runner, or,
// for a space of another location on an origin, by a command to that
// location's leaf, whose report of the result the origin then awaits for a
// moment.
func (s *SpaceService) act(ctx context.Context, sp *shared.Space, action string) error {
	if s.opts.Fleet == nil && s.remote(sp) {
		return shared.Errorf(shared.ECONFLICT, "space %s runs at location %s, not here (%s)", quote(sp.Name), quote(sp.Location), quote(s.opts.Location))
	}
	if !s.remote(sp) {
		switch action {
		case wire.ActionStart:
			return s.runner.Start(ctx, sp.ID)
		case wire.ActionStop:
			return s.runner.Stop(ctx, sp.ID)
		default:
			return s.runner.Delete(ctx, sp.ID)
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
func (s *SpaceService) command(ctx context.Context, sp *shared.Space, cmd wire.Command) error {
	connected := false
	for _, in := range s.opts.Fleet.Leaves() {
		connected = connected || (in.Connected && in.Location == sp.Location)
	}
	if !connected {
		return shared.Errorf(shared.EUNAVAILABLE, "space %s runs at location %s, whose leaf is not connected to this origin: try again when it is",
			quote(sp.Name), quote(sp.Location))
	}
	cctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	err := s.opts.Fleet.Command(cctx, sp.Location, cmd)
	if errors.Is(err, context.DeadlineExceeded) {
		return shared.Wrap(shared.EUNAVAILABLE, err, "the leaf of location %s did not answer in %s about space %s", quote(sp.Location), commandTimeout, quote(sp.Name))
	}
	return err
}

// awaitReport waits, at most remoteWait, until the origin's copy of space
// id (nil when it is gone) satisfies done.
func (s *SpaceService) awaitReport(ctx context.Context, id string, done func(*shared.Space) bool) {
	deadline := time.Now().Add(remoteWait)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		cur, err := storage.Get[shared.Space](ctx, s.opts.Store, id)
		if err != nil && shared.ErrorCode(err) != shared.ENOTFOUND {
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
