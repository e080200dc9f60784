package origin

// The relay channel (see wire.RelayPath): a leaf keeps a second connection
// to the origin, beside its link, over which the origin opens streams to
// the agents of that leaf's spaces, and the leaf opens streams to spaces of
// other locations, which the origin carries on to their leaf (or serves
// itself for its own location). The web layer authenticates the channel as
// the link (Authenticate), checks it with CheckRelay before the upgrade,
// and hands it to AcceptRelay. A channel belongs to a live link: the same
// node, at the same location, on a credential of the same holder; it ends
// when that link ends.
//
// The origin checks what it can at each hop: a restricted leaf's streams
// must act for its owner, and it is sent streams only of its owner's
// spaces; a stream a leaf opens is for a user who exists here, is active,
// and owns the space or holds Manage Spaces. The space's own leaf checks
// again against its replica (leaf.AgentStreams.ServeRelayed).

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

// RelayLocal serves a relayed stream for a space of the origin's own
// location: it answers the reply, carries the stream and closes conn.
type RelayLocal = func(ctx context.Context, h *wire.RelayOpen, conn net.Conn)

// relayTable holds the relay channels of the leaves, by location.
type relayTable struct {
	mu    sync.Mutex
	m     map[string]*relayConn // guarded by mu
	local RelayLocal            // guarded by mu
}

// relayConn is one relay channel.
type relayConn struct {
	l    *link
	conn *websocket.Conn
	sess *yamux.Session
}

func (rc *relayConn) close() {
	rc.conn.CloseNow()
	rc.sess.Close()
}

// SetRelayLocal sets how the streams for the origin's own location are
// served; without it they are refused with EUNAVAILABLE.
func (h *Hub) SetRelayLocal(f RelayLocal) {
	h.relays.mu.Lock()
	h.relays.local = f
	h.relays.mu.Unlock()
}

// CheckRelay returns the link a relay channel of node at location, on
// cred, belongs to: EINVALID without a node, EUNAUTHORIZED for a location
// that cred does not bind, ECONFLICT when no such link is live.
func (h *Hub) CheckRelay(cred Credential, node, location string) error {
	_, err := h.relayLink(cred, node, location)
	return err
}

func (h *Hub) relayLink(cred Credential, node, location string) (*link, error) {
	if node == "" || len(node) > 128 {
		return nil, shared.Errorf(shared.EINVALID, "a relay channel names its leaf node: query parameter node, 1 to 128 bytes")
	}
	if cred.Location != "" {
		if location != "" && location != cred.Location {
			return nil, shared.Errorf(shared.EUNAUTHORIZED, "the credential binds location %q, not %.64q", cred.Location, location)
		}
		location = cred.Location
	}
	h.mu.Lock()
	l := h.links[location]
	h.mu.Unlock()
	if l == nil || l.node != node || !sameHolder(l.cred, cred) {
		return nil, shared.Errorf(shared.ECONFLICT, "no leaf link of node %.128q at location %.64q: open the leaf link first", node, location)
	}
	return l, nil
}

// AcceptRelay serves the relay channel of a leaf on conn, checked as
// CheckRelay checks it. It returns at once; the channel goes on until its
// link ends, the leaf goes away or Run stops. It closes conn when it
// refuses.
func (h *Hub) AcceptRelay(conn *websocket.Conn, cred Credential, node, location string) error {
	l, err := h.relayLink(cred, node, location)
	if err != nil {
		conn.Close(websocket.StatusPolicyViolation, wire.CloseReason(shared.ErrorMessage(err)))
		return err
	}
	h.mu.Lock()
	if h.stopped || !h.running {
		h.mu.Unlock()
		conn.Close(websocket.StatusTryAgainLater, "origin is shutting down")
		return ErrClosed
	}
	h.conns.Add(1)
	runCtx := h.runCtx
	h.mu.Unlock()
	conn.SetReadLimit(wire.MaxRelayMessage)
	sess, err := yamux.Client(websocket.NetConn(runCtx, conn, websocket.MessageBinary), wire.RelayMux())
	if err != nil {
		h.conns.Done()
		conn.CloseNow()
		return err
	}
	rc := &relayConn{l: l, conn: conn, sess: sess}
	l.relayed.Store(true)
	h.relays.mu.Lock()
	if h.relays.m == nil {
		h.relays.m = map[string]*relayConn{}
	}
	old := h.relays.m[l.location]
	h.relays.m[l.location] = rc
	h.relays.mu.Unlock()
	if old != nil {
		old.close()
	}
	// The link may have ended meanwhile, before it could drop the channel.
	h.mu.Lock()
	live := h.links[l.location] == l
	h.mu.Unlock()
	if !live {
		h.dropRelay(l)
	}
	go h.serveRelay(rc)
	return nil
}

// dropRelay closes the relay channel of l, if it has one.
func (h *Hub) dropRelay(l *link) {
	h.relays.mu.Lock()
	rc := h.relays.m[l.location]
	h.relays.mu.Unlock()
	if rc != nil && rc.l == l {
		h.dropRelayConn(rc)
	}
}

// dropRelayConn closes rc and forgets it, unless another channel took its
// place.
func (h *Hub) dropRelayConn(rc *relayConn) {
	h.relays.mu.Lock()
	if h.relays.m[rc.l.location] == rc {
		delete(h.relays.m, rc.l.location)
	}
	h.relays.mu.Unlock()
	rc.close()
}

// serveRelay takes the streams the leaf opens until the channel ends.
func (h *Hub) serveRelay(rc *relayConn) {
	defer h.conns.Done()
	var wg sync.WaitGroup
	for {
		st, err := rc.sess.AcceptStream()
		if err != nil {
			break
		}
		if rc.sess.NumStreams() > wire.MaxRelayStreams {
			wire.WriteRelay(st, wire.ReplyOf(shared.Errorf(shared.EUNAVAILABLE, "too many relayed streams on this leaf's channel: at most %d", wire.MaxRelayStreams)))
			st.Close()
			continue
		}
		wg.Go(func() { h.leafStream(rc, st) })
	}
	h.dropRelayConn(rc)
	wg.Wait()
}

// leafStream serves a stream a leaf opened: it checks the header, then
// serves it here (the origin's own location) or carries it on to the leaf
// of the space's location.
func (h *Hub) leafStream(rc *relayConn, st *yamux.Stream) {
	defer st.Close()
	st.SetDeadline(time.Now().Add(15 * time.Second))
	hdr, err := wire.ReadRelayOpen(st)
	if err != nil {
		wire.WriteRelay(st, wire.ReplyOf(shared.Errorf(shared.EINVALID, "bad relay header: %v", err)))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sp, err := h.mayRelay(ctx, rc.l.cred, hdr)
	if err != nil {
		h.log.Info("origin: relayed stream refused", "from_location", rc.l.location, "space_id", hdr.SpaceID, "user_id", hdr.UserID, "err", err)
		wire.WriteRelay(st, wire.ReplyOf(err))
		return
	}
	home := h.homeLocation()
	hdr.Via = fmt.Sprintf("leaf %s via origin %s", rc.l.location, home)
	if sp.Location == home {
		h.relays.mu.Lock()
		local := h.relays.local
		h.relays.mu.Unlock()
		if local == nil {
			wire.WriteRelay(st, wire.ReplyOf(shared.Errorf(shared.EUNAVAILABLE, "the origin serves no streams to its own spaces")))
			return
		}
		st.SetDeadline(time.Time{})
		local(context.Background(), hdr, st)
		return
	}
	to, err := h.openRelay(ctx, sp.Location, hdr)
	if err != nil {
		wire.WriteRelay(st, wire.ReplyOf(err))
		return
	}
	defer to.Close()
	if wire.WriteRelay(st, wire.ReplyOf(nil)) != nil {
		return
	}
	st.SetDeadline(time.Time{})
	to.SetDeadline(time.Time{})
	wire.Splice(st, to)
}

// mayRelay checks a stream a leaf of cred opened: a restricted leaf acts
// for its owner alone, and the user must exist, be active, and own the
// space or hold Manage Spaces.
func (h *Hub) mayRelay(ctx context.Context, cred Credential, hdr *wire.RelayOpen) (*shared.Space, error) {
	if cred.Restricted() && hdr.UserID != cred.UserID {
		return nil, shared.Errorf(shared.EFORBIDDEN, "a leaf connected with an API token opens streams for its owner alone")
	}
	sp, err := storage.Get[shared.Space](ctx, h.store, hdr.SpaceID)
	if err != nil {
		return nil, err
	}
	u, err := storage.Get[shared.User](ctx, h.store, hdr.UserID)
	if shared.ErrorCode(err) == shared.ENOTFOUND || (err == nil && !u.Active) {
		return nil, shared.Errorf(shared.EFORBIDDEN, "user %q is not an active user of the origin", hdr.UserID)
	} else if err != nil {
		return nil, err
	}
	if sp.UserID == u.ID {
		return sp, nil
	}
	for _, id := range u.Roles {
		r, err := roleIn(ctx, h.store, id)
		if shared.ErrorCode(err) == shared.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		if shared.PermissionsOf(r.Permissions).Has(shared.PermManageSpaces) {
			return sp, nil
		}
	}
	return nil, shared.Errorf(shared.ENOTFOUND, "space %q not found", hdr.SpaceID)
}

// OpenRelay opens a stream to the agent of a space at location, a leaf's,
// sends h and reads the leaf's reply; the stream then carries the agent
// stream. Its deadline is ctx's. EUNAVAILABLE at once when that leaf is
// not connected or has no relay channel, EFORBIDDEN for a restricted
// leaf's space of another user, and the leaf's refusals.
func (h *Hub) OpenRelay(ctx context.Context, location string, hdr *wire.RelayOpen) (net.Conn, error) {
	if hdr.Via == "" {
		hdr.Via = "origin " + h.homeLocation()
	}
	return h.openRelay(ctx, location, hdr)
}

func (h *Hub) openRelay(ctx context.Context, location string, hdr *wire.RelayOpen) (net.Conn, error) {
	h.mu.Lock()
	l := h.links[location]
	h.mu.Unlock()
	if l == nil {
		return nil, shared.Errorf(shared.EUNAVAILABLE, "location %s is unreachable: its leaf is not connected to the origin", location)
	}
	h.relays.mu.Lock()
	rc := h.relays.m[location]
	h.relays.mu.Unlock()
	if rc == nil || rc.l != l {
		if l.relayed.Load() {
			// The channel closed before its link noticed: the leaf went away,
			// or is dialling the channel again.
			return nil, shared.Errorf(shared.EUNAVAILABLE, "location %s is unreachable: its leaf is not connected to the origin (its relay channel closed)", location)
		}
		return nil, shared.Errorf(shared.EUNAVAILABLE, "location %s is unreachable: its leaf is connected but keeps no relay channel (it may run an older knot)", location)
	}
	if l.cred.Restricted() {
		sp, err := storage.Get[shared.Space](ctx, h.store, hdr.SpaceID)
		if err != nil {
			return nil, err
		}
		if sp.UserID != l.cred.UserID {
			return nil, shared.Errorf(shared.EFORBIDDEN, "location %s is a user's own leaf: it serves that user's spaces alone", location)
		}
	}
	if rc.sess.NumStreams() >= wire.MaxRelayStreams {
		return nil, shared.Errorf(shared.EUNAVAILABLE, "location %s is busy: %d relayed streams are open", location, wire.MaxRelayStreams)
	}
	st, err := rc.sess.OpenStream()
	if err != nil {
		return nil, shared.Errorf(shared.EUNAVAILABLE, "location %s is unreachable: %v", location, err)
	}
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Now().Add(15 * time.Second)
	}
	st.SetDeadline(d)
	if err := wire.WriteRelay(st, hdr); err != nil {
		st.Close()
		return nil, shared.Errorf(shared.EUNAVAILABLE, "location %s is unreachable: %v", location, err)
	}
	if err := wire.ReadRelayReply(st); err != nil {
		st.Close()
		if _, ok := err.(*shared.Error); ok {
			return nil, err
		}
		return nil, shared.Errorf(shared.EUNAVAILABLE, "the leaf of location %s did not answer: %v", location, err)
	}
	return st, nil
}
