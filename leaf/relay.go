package leaf

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
)

// The leaf's side of the relay channel (wire.RelayPath; the why is in
// streams.go). While its link is up, a leaf that serves agent streams
// (SetStreams) keeps a second websocket to the origin, on the same
// credential, and wraps it in yamux: the origin opens streams on it to
// this leaf's spaces, which AgentStreams.ServeRelayed checks and serves;
// this leaf opens streams on it to spaces of other locations (OpenRelay),
// which the origin carries on. The channel is dialled again with backoff
// when it drops while the link stays, and closed with the link.

// SetStreams makes the uplink keep the relay channel while its link is
// up, serve the streams the origin relays with s, and be s's way to other
// locations. Call it before Run.
func (u *Uplink) SetStreams(s *AgentStreams) {
	u.mu.Lock()
	u.streams = s
	u.mu.Unlock()
	s.SetRemote(u)
}

// relayState is the uplink's relay channel, guarded by Uplink.mu.
type relayState struct {
	sess   *yamux.Session // nil while there is none
	reason string         // why there is none
}

// OpenRelay implements RemoteStreams: it opens a stream through the
// origin to the space h names at location. EUNAVAILABLE at once while the
// origin cannot be reached.
func (u *Uplink) OpenRelay(ctx context.Context, location string, h *wire.RelayOpen) (net.Conn, error) {
	u.mu.Lock()
	sess, reason := u.relay.sess, u.relay.reason
	u.mu.Unlock()
	if sess == nil {
		if st := u.Status(); !st.Connected && st.Reason != "" {
			reason = st.Reason
		}
		if reason == "" {
			reason = "the relay channel is not up yet"
		}
		return nil, shared.Errorf(shared.EUNAVAILABLE, "location %s is reached through the origin, which this server cannot reach now: %s", location, reason)
	}
	if sess.NumStreams() >= wire.MaxRelayStreams {
		return nil, shared.Errorf(shared.EUNAVAILABLE, "too many relayed streams are open: at most %d", wire.MaxRelayStreams)
	}
	st, err := sess.OpenStream()
	if err != nil {
		u.Probe()
		return nil, shared.Errorf(shared.EUNAVAILABLE, "location %s is reached through the origin, which this server cannot reach now: %v", location, err)
	}
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Now().Add(15 * time.Second)
	}
	st.SetDeadline(d)
	if err := wire.WriteRelay(st, h); err != nil {
		st.Close()
		return nil, shared.Errorf(shared.EUNAVAILABLE, "the origin did not take the stream: %v", err)
	}
	if err := wire.ReadRelayReply(st); err != nil {
		st.Close()
		if _, ok := err.(*shared.Error); ok {
			return nil, err
		}
		u.Probe()
		return nil, shared.Errorf(shared.EUNAVAILABLE, "the origin did not answer for location %s: %v", location, err)
	}
	return st, nil
}

// keepRelay keeps the relay channel until ctx, the link's, ends. It
// returns nil then, and never earlier.
func (s *session) keepRelay(ctx context.Context) error {
	u := s.u
	delay := u.opts.MinBackoff
	for {
		began := time.Now()
		err := s.relayOnce(ctx)
		if ctx.Err() != nil {
			u.setRelay(nil, "the link to the origin is down")
			return nil
		}
		reason := "the relay channel to the origin closed"
		if err != nil {
			reason = "the relay channel to the origin: " + err.Error()
		}
		u.setRelay(nil, reason)
		u.log.Warn("leaf: relay channel down", "reason", reason)
		if time.Since(began) > time.Minute {
			delay = u.opts.MinBackoff
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(delay*2, u.opts.MaxBackoff)
	}
}

func (u *Uplink) setRelay(sess *yamux.Session, reason string) {
	u.mu.Lock()
	u.relay = relayState{sess: sess, reason: reason}
	u.mu.Unlock()
}

// relayOnce dials the relay channel and serves it until it or ctx ends.
func (s *session) relayOnce(ctx context.Context) error {
	u := s.u
	target, err := u.url(ctx)
	if err != nil {
		return err
	}
	target = strings.TrimSuffix(target, wire.Path) + wire.RelayPath + "?" + url.Values{"node": {u.opts.NodeID}, "location": {s.location}}.Encode()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, resp, err := u.dial(dctx, target, &websocket.DialOptions{
		HTTPClient:   u.opts.HTTPClient,
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + u.opts.Token}},
		Subprotocols: []string{wire.RelaySubprotocol},
	})
	cancel()
	if err != nil {
		return dialError(target, resp, err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(wire.MaxRelayMessage)
	sess, err := yamux.Server(websocket.NetConn(ctx, conn, websocket.MessageBinary), wire.RelayMux())
	if err != nil {
		return err
	}
	u.mu.Lock()
	streams := u.streams
	u.mu.Unlock()
	u.setRelay(sess, "")
	u.log.Info("leaf: relay channel to the origin up")
	var wg sync.WaitGroup
	defer func() {
		sess.Close() // which ends the streams
		wg.Wait()
	}()
	stop := context.AfterFunc(ctx, func() { sess.Close() })
	defer stop()
	for {
		st, err := sess.AcceptStream()
		if err != nil {
			if sess.IsClosed() {
				return nil
			}
			return err
		}
		if sess.NumStreams() > wire.MaxRelayStreams {
			wire.WriteRelay(st, wire.ReplyOf(shared.Errorf(shared.EUNAVAILABLE, "too many relayed streams are open at this leaf: at most %d", wire.MaxRelayStreams)))
			st.Close()
			continue
		}
		wg.Go(func() { serveRelayStream(ctx, streams, st) })
	}
}

// serveRelayStream reads the header of a stream the origin opened and
// serves it; a bad header closes the stream with the reason.
func serveRelayStream(ctx context.Context, streams *AgentStreams, st *yamux.Stream) {
	st.SetDeadline(time.Now().Add(15 * time.Second))
	h, err := wire.ReadRelayOpen(st)
	if err != nil {
		wire.WriteRelay(st, wire.ReplyOf(shared.Errorf(shared.EINVALID, "bad relay header: %v", err)))
		st.Close()
		return
	}
	st.SetDeadline(time.Time{})
	streams.ServeRelayed(ctx, h, st)
}
