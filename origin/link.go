package origin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

// pageSize is how many feed entries a link reads at once; frameBytes is
// the size after which it starts a new frame.
const (
	pageSize   = 500
	frameBytes = 1 << 20
)

// link is one leaf connection, with its goroutines: the reader (serve),
// the streamer while there is something to send, and the pinger while a
// ping is under way. Writes go straight to the websocket, which
// allows concurrent writers.
type link struct {
	hub  *Hub
	conn *websocket.Conn
	cred Credential

	// Set by the handshake, then read-only.
	node     string
	location string
	version  string // the leaf's, from its hello
	epoch    string
	mode     string
	proto    int
	stop     context.CancelCauseFunc

	// Owned by the streamer. At most one streamer runs at a time, and the
	// next one starts under smu after the last one stopped.
	rev        int64 // the revision the leaf holds once it applied what was sent
	view       view
	ownerRev   int64           // restricted: revision of the owner record the view follows
	reeval     bool            // restricted: the next frame must re-evaluate the view
	stuck      *time.Timer     // closes the connection when a change frame write hangs
	seen       int64           // the store's head revision as the link last read it
	agentSeq   int64           // the last change of the hub's agent table sent (agents.go)
	agentsTold map[string]bool // the locations whose agents were sent; nil before the first (agents.go)

	// Set by open before the goroutines start.
	end     func(error)     // ends the link with the first error it is given
	err     error           // the error that ended the link, set by end
	sctx    context.Context // the streamer's and reader's context, which does not end
	unwatch func() bool     // stops ending the link when its context ends

	smu       sync.Mutex
	work      work           // guarded by smu: what the streamer is asked to do
	streaming bool           // guarded by smu: a streamer runs, or open has not started one yet
	ended     bool           // guarded by smu: no streamer starts anymore
	streamers sync.WaitGroup // streamer goroutines
	kaDue     time.Time      // guarded by hub.mu: when the next keep-alive is due

	pinging atomic.Bool    // a ping is under way
	pings   sync.WaitGroup // ping goroutines

	sent atomic.Int64 // the highest revision sent, for checking acks

	relayed atomic.Bool // the leaf opened a relay channel for this link (relay.go)

	mu      sync.Mutex
	pending map[string]chan wire.CommandResult // guarded by mu: commands awaiting results

	lastReport int64      // reader only: leaf revision of the last space report handled
	limits     linkLimits // reader only: what the leaf may still send (limits.go)
}

// closeError ends a link with a websocket close code and a reason.
type closeError struct {
	code   websocket.StatusCode
	reason string
}

func (e *closeError) Error() string { return fmt.Sprintf("%s (close code %d)", e.reason, e.code) }

func closeWith(code int, format string, args ...any) *closeError {
	return &closeError{code: websocket.StatusCode(code), reason: fmt.Sprintf(format, args...)}
}

// errGone wraps a read error that is not a close frame: the connection
// broke, or the library closed it (a frame over the read limit).
var errGone = errors.New("the connection to the leaf ended")

// gone returns err from a read as it ends the link.
func gone(err error) error {
	if websocket.CloseStatus(err) != -1 {
		return err
	}
	return fmt.Errorf("%w: %v", errGone, err)
}

// work is what the streamer of a link is asked to do, a set of bits.
type work uint8

const (
	workStart     work = 1 << iota // ping, and send the snapshot if the welcome said so
	workPump                       // send what the feed holds after the leaf's revision
	workKeepAlive                  // recheck the credential, send a keep-alive and ping
	workAgents                     // send what changed of the other locations' agents (agents.go)
)

// poke tells the link the store's head moved.
func (l *link) poke() { l.kick(workPump) }

// kick asks the streamer to do w, and starts it unless it runs. An idle link
// holds no streamer goroutine.
func (l *link) kick(w work) {
	l.smu.Lock()
	l.work |= w
	start := !l.streaming && !l.ended
	if start {
		l.streaming = true
		l.streamers.Add(1)
	}
	l.smu.Unlock()
	if start {
		go l.streamer()
	}
}

// streamer does the work the link was asked to do until none is left. An
// error ends the link, and no streamer starts after it.
func (l *link) streamer() {
	defer l.streamers.Done()
	for {
		l.smu.Lock()
		w := l.work
		l.work = 0
		if w == 0 || l.ended {
			l.streaming = false
			l.smu.Unlock()
			return
		}
		l.smu.Unlock()
		if err := l.stream(l.sctx, w); err != nil {
			l.smu.Lock()
			l.ended = true
			l.streaming = false
			l.smu.Unlock()
			l.end(err)
			return
		}
	}
}

// open answers the leaf's hello within ctx and, once the link is up,
// starts the streamer; serve then reads. The link's context comes from
// runCtx, Run's: the link outlives ctx, which may be a request's.
//
// open runs in the goroutine of Accept, and serve in one of its own. A
// goroutine keeps the stack it grew for as long as it waits, and the
// handshake grows a deep one (decoding, the store, logging); the reader
// waits for as long as the leaf stays connected, and starts afresh.
func (l *link) open(ctx, runCtx context.Context) error {
	l.conn.SetReadLimit(wire.MaxFrameSize)
	l.streaming = true // until open starts the streamer: a kick only adds work
	lctx, stop := context.WithCancelCause(runCtx)
	l.stop = stop
	hctx, cancel := context.WithCancel(ctx)
	unwatch := context.AfterFunc(lctx, cancel)
	hello, err := l.readHello(hctx)
	if err == nil {
		err = l.handshake(hctx, hello)
	}
	unwatch()
	cancel()
	if err != nil {
		l.hub.unregister(l) // if the handshake registered it
		stop(nil)
		l.close(err)
		return err
	}
	l.hub.log.Info("origin: leaf connected", "node", l.node, "location", l.location, "version", hello.Version, "restricted", l.cred.Restricted())

	// The link holds one goroutine while it is idle: serve's, which reads.
	// The streamer writes, and runs only while there is something to send
	// (kick): the hub wakes it when the store's head moves and when a
	// keep-alive is due. Pings run in a goroutine of their own while they
	// wait for the answer. The first error ends the link: end closes the
	// websocket with its code and reason, which ends the reader. The
	// streamer's context does not end: a write or ping cut short by a
	// context drops the connection at once, before the close frame went
	// out. Once the link is closed, what the streamer does fails or ends
	// soon, and it starts nothing new.
	var once sync.Once
	l.end = func(err error) {
		once.Do(func() {
			l.err = err
			l.close(err)
		})
	}
	l.sctx = context.WithoutCancel(lctx)
	l.unwatch = context.AfterFunc(lctx, func() { l.end(context.Cause(lctx)) })
	l.smu.Lock()
	l.work |= workStart | workPump | workAgents
	l.smu.Unlock()
	l.streamers.Add(1)
	go l.streamer() // streaming has been true since open began
	return nil
}

// serve reads the leaf's frames until the link ends, and then finishes it.
// It is kept small: its frame is part of every idle link's stack.
func (l *link) serve() {
	l.end(l.read(l.sctx))
	l.finish()
}

// finish waits for the link's other goroutines once the reader ended,
// fails the commands still waiting for the leaf, and says why the link
// ended.
func (l *link) finish() {
	defer l.hub.conns.Done()
	defer l.stop(nil)
	defer l.hub.unregister(l)
	l.unwatch()
	l.smu.Lock()
	l.ended = true
	l.smu.Unlock()
	l.streamers.Wait()
	l.pings.Wait()
	l.failCommands()
	l.hub.log.Info("origin: leaf disconnected", "node", l.node, "location", l.location, "reason", l.err)
}

// close closes the websocket with the code and reason err calls for.
func (l *link) close(err error) {
	code, reason := websocket.StatusNormalClosure, ""
	var ce *closeError
	switch {
	case errors.As(err, &ce):
		code, reason = ce.code, ce.reason
	case err == nil:
	case errors.Is(err, errGone):
		l.conn.CloseNow()
		return
	case errors.Is(err, context.Canceled):
		code, reason = websocket.StatusGoingAway, "origin is shutting down"
	case websocket.CloseStatus(err) != -1:
		// The leaf closed the link; answer in kind.
	default:
		l.hub.log.Error("origin: leaf link failed", "node", l.node, "location", l.location, "err", err)
		code, reason = wire.CloseInternal, "origin error"
	}
	l.conn.Close(code, wire.CloseReason(reason))
}

// send writes one frame. The write is bounded by a timeout but not by ctx's
// cancellation: the websocket drops the connection when a write's context
// ends, even just after the write, and the link must be able to close with
// a reason. Closing the link unblocks a stuck write.
func (l *link) send(ctx context.Context, f wire.Frame) error {
	b, err := wire.Encode(f)
	if err != nil {
		return err
	}
	return l.write(ctx, b)
}

// write writes one encoded frame, like send. Its timeout is a timer that
// closes the connection, not a context: the websocket keeps the context of
// its last write, which would hold a context per idle link.
func (l *link) write(ctx context.Context, b []byte) error {
	t := time.AfterFunc(writeTimeout, func() { l.conn.CloseNow() })
	defer t.Stop()
	return l.conn.Write(context.Background(), websocket.MessageText, b)
}

func (l *link) readHello(ctx context.Context) (*wire.Hello, error) {
	hctx, cancel := context.WithTimeout(ctx, l.hub.helloTimeout)
	defer cancel()
	typ, b, err := l.conn.Read(hctx)
	if err != nil {
		if hctx.Err() != nil && ctx.Err() == nil {
			return nil, closeWith(wire.CloseMalformed, "no hello within %s", l.hub.helloTimeout)
		}
		return nil, gone(err)
	}
	if typ != websocket.MessageText {
		return nil, closeWith(wire.CloseMalformed, "expected a text frame")
	}
	f, err := wire.Decode(b)
	if err != nil {
		return nil, closeWith(wire.CloseMalformed, "%s", shared.ErrorMessage(err))
	}
	hello, ok := f.(*wire.Hello)
	if !ok {
		return nil, closeWith(wire.CloseMalformed, "expected a hello frame, got %s", f.FrameType())
	}
	return hello, nil
}

// refuse sends a refusal frame and returns the error that closes the link.
func (l *link) refuse(ctx context.Context, retryable bool, format string, args ...any) error {
	reason := fmt.Sprintf(format, args...)
	if err := l.send(ctx, &wire.Refusal{Reason: reason, Retryable: retryable}); err != nil {
		return err
	}
	l.hub.log.Warn("origin: leaf refused", "node", l.node, "location", l.location, "reason", reason)
	return closeWith(wire.CloseRefused, "%s", reason)
}

// handshake answers the hello: a refusal, or a welcome after registering
// the link.
func (l *link) handshake(ctx context.Context, hello *wire.Hello) error {
	h := l.hub
	l.node = hello.NodeID
	proto, ok := wire.Negotiate(wire.ProtocolMin, wire.ProtocolMax, hello.ProtocolMin, hello.ProtocolMax)
	if !ok {
		return l.refuse(ctx, false, "no common protocol: origin %s speaks %d to %d, leaf %s speaks %d to %d; upgrade the older one",
			h.version, wire.ProtocolMin, wire.ProtocolMax, hello.Version, hello.ProtocolMin, hello.ProtocolMax)
	}
	switch l.cred.Kind {
	case CredentialAPIToken:
		if hello.Location != "" && hello.Location != l.cred.Location {
			// A restricted leaf's location is its owner's username.
			return l.refuse(ctx, false, "set server.location to %q (the API token's owner), not %q", l.cred.Location, hello.Location)
		}
		l.location = l.cred.Location
	case CredentialLeafToken:
		if hello.Location != "" && hello.Location != l.cred.Location {
			return l.refuse(ctx, false, "this leaf token is for location %q, not %q", l.cred.Location, hello.Location)
		}
		l.location = l.cred.Location
	default:
		if err := checkLocation(hello.Location); err != nil {
			return l.refuse(ctx, false, "%s", shared.ErrorMessage(err))
		}
		l.location = hello.Location
	}
	if reason := h.checkLinkLocation(l.cred, l.location); reason != "" {
		return l.refuse(ctx, false, "%s", reason)
	}
	if err := h.recheck(ctx, l.cred); err != nil {
		if shared.ErrorCode(err) == shared.EUNAUTHORIZED {
			return closeWith(wire.CloseRevoked, "%s", shared.ErrorMessage(err))
		}
		return err
	}
	head, err := h.store.Head(ctx)
	if err != nil {
		return err
	}
	l.epoch = head.Epoch
	l.mode = wire.ModeSnapshot
	if hello.Epoch == head.Epoch && hello.AppliedRevision >= head.Horizon && hello.AppliedRevision <= head.Revision {
		l.mode = wire.ModeResume
		l.rev = hello.AppliedRevision
	}
	l.view.spaces = proto >= 3
	if l.cred.Restricted() {
		owner, err := storage.Get[shared.User](ctx, h.store, l.cred.UserID)
		if err != nil {
			return err
		}
		l.view.restricted, l.view.owner, l.view.location = true, owner, l.location
		l.ownerRev = owner.Revision
		// A resuming leaf holds the view of the owner as of its revision;
		// if the owner changed since, the first frame re-evaluates it.
		l.reeval = l.mode == wire.ModeResume && owner.Revision > hello.AppliedRevision
	}
	l.proto, l.version = proto, hello.Version
	if reason := h.register(l, hello, proto); reason != "" {
		return l.refuse(ctx, true, "%s", reason)
	}
	h.noteEpoch(l, hello.Epoch)
	l.sent.Store(l.rev)
	l.seen = head.Revision
	return l.send(ctx, &wire.Welcome{
		Protocol: proto, Epoch: head.Epoch, Restricted: l.cred.Restricted(), Location: l.location, Mode: l.mode, Head: head.Revision,
		AckIntervalMS: h.ackIntervalNow(proto),
	})
}

// register makes l the link of its location. It returns why it may not
// (mayRegister), and then registers nothing. A link of the same node and
// holder is replaced.
func (h *Hub) register(l *link, hello *wire.Hello, proto int) string {
	h.mu.Lock()
	old := h.links[l.location]
	if reason := h.mayRegister(l); reason != "" {
		h.mu.Unlock()
		return reason
	}
	now := h.now()
	h.links[l.location] = l
	h.agentsLinked(l.location)
	l.kaDue = time.Now().Add(h.keepAlive)
	h.fleet.connect(shared.LeafNode{
		NodeID: l.node, Location: l.location, Version: hello.Version, Protocol: proto,
		Runtimes: append([]string(nil), hello.Runtimes...), Restricted: l.cred.Restricted(),
		Credential: string(l.cred.Kind), LeafTokenID: leafTokenID(l.cred),
		Connected: true, ConnectedSince: now, LastSeen: now, Applied: hello.AppliedRevision,
	})
	h.mu.Unlock()
	if old != nil {
		old.stop(closeWith(wire.CloseReplaced, "replaced by a newer connection of the same leaf node"))
	}
	return ""
}

// leafTokenID is the id of the leaf token cred is, or "".
func leafTokenID(cred Credential) string {
	if cred.Kind == CredentialLeafToken {
		return cred.TokenID
	}
	return ""
}

func (h *Hub) unregister(l *link) {
	defer h.dropRelay(l) // after the unlock
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.links[l.location] != l {
		return // replaced
	}
	delete(h.links, l.location)
	h.agentsLinked(l.location)
	h.fleet.disconnect(l.node, l.location, h.now())
}

// dropLinks stops every link whose credential matches.
func (h *Hub) dropLinks(match func(Credential) bool, reason string) {
	h.mu.Lock()
	var drop []*link
	for _, l := range h.links {
		if match(l.cred) {
			drop = append(drop, l)
		}
	}
	h.mu.Unlock()
	for _, l := range drop {
		l.stop(closeWith(wire.CloseRevoked, "%s", reason))
	}
}

// checkCredential returns the error that closes the link when its
// credential no longer holds.
func (l *link) checkCredential(ctx context.Context) error {
	err := l.hub.recheck(ctx, l.cred)
	if shared.ErrorCode(err) == shared.EUNAUTHORIZED {
		return closeWith(wire.CloseRevoked, "%s", shared.ErrorMessage(err))
	}
	return err
}

// stream does w: at the start a ping and the snapshot if the welcome said
// so, a keep-alive, and then every change after the leaf's revision.
func (l *link) stream(ctx context.Context, w work) error {
	if w&workStart != 0 {
		l.ping(ctx)
		if l.mode == wire.ModeSnapshot {
			if err := l.snapshot(ctx); err != nil {
				return err
			}
		}
	}
	if w&workKeepAlive != 0 {
		if err := l.checkCredential(ctx); err != nil {
			return err
		}
		head, err := l.hub.store.Head(ctx)
		if err != nil {
			return err
		}
		l.seen = max(l.seen, head.Revision)
		if err := l.send(ctx, &wire.KeepAlive{Head: head.Revision, AckIntervalMS: l.hub.ackIntervalNow(l.proto)}); err != nil {
			return err
		}
		l.ping(ctx)
	}
	if w&workAgents != 0 {
		if err := l.sendAgents(ctx); err != nil {
			return err
		}
	}
	for {
		more, err := l.pump(ctx)
		if err != nil || !more {
			return err
		}
	}
}

// keepAlives kicks the links whose keep-alive is due. Run calls it a few
// times per keep-alive interval, so that the links need no timers of their
// own.
func (h *Hub) keepAlives(now time.Time) {
	h.mu.Lock()
	var due []*link
	for _, l := range h.links {
		if !now.Before(l.kaDue) {
			l.kaDue = now.Add(h.keepAlive)
			due = append(due, l)
		}
	}
	h.mu.Unlock()
	for _, l := range due {
		l.kick(workKeepAlive)
	}
}
