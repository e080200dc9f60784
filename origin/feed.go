package origin

import (
	"context"
	"io"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

// group is what one feed entry turns into for a leaf; a frame holds whole
// groups, and its revision is the last group's.
type group struct {
	rev  int64
	out  []wire.Change
	size int
}

func (g *group) add(w wire.Change) {
	g.out = append(g.out, w)
	g.size += len(w.Data) + len(w.ID) + 64
}

// pump sends one page of the feed after the leaf's revision. It reports
// whether more may be waiting.
func (l *link) pump(ctx context.Context) (bool, error) {
	if !l.view.restricted {
		return l.pumpShared(ctx)
	}
	st := l.hub.store
	cs, err := st.Changes(ctx, l.rev, pageSize)
	if err != nil {
		return false, err
	}
	// Read the head after the page: a compaction that could have taken
	// tombstones from the page shows in the horizon.
	head, err := st.Head(ctx)
	if err != nil {
		return false, err
	}
	if head.Epoch != l.epoch {
		return false, closeWith(wire.CloseStartOver, "the origin's store was replaced; reconnect for a snapshot")
	}
	if l.rev < head.Horizon {
		return false, closeWith(wire.CloseStartOver, "the leaf fell behind the origin's tombstone horizon; reconnect for a snapshot")
	}
	if len(cs) == 0 {
		return false, nil
	}
	groups, recheck, err := l.translate(ctx, cs)
	if err != nil {
		return false, err
	}
	if err := l.sendGroups(ctx, groups); err != nil {
		return false, err
	}
	if recheck {
		if err := l.checkCredential(ctx); err != nil {
			return false, err
		}
	}
	return len(cs) == pageSize, nil
}

// translate turns a page of the feed into the leaf's groups, re-evaluating
// a restricted view first when its owner changed. It also reports whether
// the page touched the link's credential.
func (l *link) translate(ctx context.Context, cs []shared.Change) ([]group, bool, error) {
	recheck := false
	for _, c := range cs {
		recheck = recheck || l.touchesCredential(c)
		if l.view.restricted && c.Kind == shared.KindUser && c.ID == l.view.owner.ID && !c.Deleted && c.Revision > l.ownerRev {
			owner, err := storage.Decode[shared.User](c)
			if err != nil {
				return nil, false, err
			}
			l.view.owner, l.ownerRev, l.reeval = owner, c.Revision, true
		}
	}
	groups := make([]group, len(cs))
	if l.reeval {
		// The whole re-evaluation goes with the first entry, so that the
		// leaf never holds a view of one owner record with another.
		oc, err := storage.Encode(l.view.owner)
		if err != nil {
			return nil, false, err
		}
		w, _, err := l.view.show(oc)
		if err != nil {
			return nil, false, err
		}
		groups[0].add(w)
		ws, err := l.view.reevaluate(ctx, l.hub.store, cs[len(cs)-1].Revision)
		if err != nil {
			return nil, false, err
		}
		for _, w := range ws {
			groups[0].add(w)
		}
		l.reeval = false
	}
	for i, c := range cs {
		groups[i].rev = c.Revision
		w, ok, err := l.view.filter(c)
		if err != nil {
			return nil, false, err
		}
		if ok {
			groups[i].add(w)
		}
	}
	return groups, recheck, nil
}

// touchesCredential reports whether c may have changed whether the link's
// credential holds.
func (l *link) touchesCredential(c shared.Change) bool {
	switch l.cred.Kind {
	case CredentialLeafToken:
		return c.Kind == shared.KindLeafToken && c.ID == l.cred.TokenID
	case CredentialAPIToken:
		return c.Kind == shared.KindToken && c.ID == l.cred.TokenID || c.Kind == shared.KindUser && c.ID == l.cred.UserID
	}
	return false
}

// sendGroups packs groups into change frames of about frameBytes and sends
// them.
func (l *link) sendGroups(ctx context.Context, groups []group) error {
	frames, err := encodeGroups(l.rev, groups)
	if err != nil {
		return err
	}
	return l.sendFrames(ctx, frames)
}

// snapshot sends the leaf's whole view, then the snapshot's end. A trusted
// leaf gets the trusted snapshot, which the links that start at about the
// same time share (see trustedSnapshot); a restricted leaf gets its own.
func (l *link) snapshot(ctx context.Context) error {
	var snap *encodedSnapshot
	if l.view.restricted {
		head, all, err := listSnapshot(ctx, l.hub.store, l.view.kinds())
		if err != nil {
			return err
		}
		found := false
		for _, c := range all {
			if c.Kind == shared.KindUser && c.ID == l.cred.UserID {
				owner, err := storage.Decode[shared.User](c)
				if err != nil {
					return err
				}
				l.view.owner, l.ownerRev, l.reeval, found = owner, c.Revision, false, true
			}
		}
		if !found {
			return closeWith(wire.CloseRevoked, "the API token's owner no longer exists")
		}
		if snap, err = encodeSnapshot(&l.view, head, all); err != nil {
			return err
		}
	} else {
		var err error
		if snap, err = l.hub.trustedSnapshot(ctx, l.view.spaces); err != nil {
			return err
		}
	}
	if snap.head.Epoch != l.epoch {
		return closeWith(wire.CloseStartOver, "the origin's store was replaced; reconnect for a snapshot")
	}
	for _, b := range snap.frames {
		if err := l.write(ctx, b); err != nil {
			return err
		}
	}
	l.sent.Store(snap.head.Revision) // before the send: the ack may come back at once
	if err := l.send(ctx, &wire.SnapshotEnd{Revision: snap.head.Revision, Count: snap.count}); err != nil {
		return err
	}
	l.rev = snap.head.Revision
	return nil
}

// listSnapshot lists the records of kinds between two reads of the head,
// and retries a few times to get a listing at one revision; a listing that
// raced with writes holds records newer than the snapshot's revision (the
// first head), which the changes after it bring again.
func listSnapshot(ctx context.Context, st storage.Store, kinds []shared.Kind) (storage.Head, []shared.Change, error) {
	var head storage.Head
	var all []shared.Change
	for attempt := 0; attempt < 3; attempt++ {
		h1, err := st.Head(ctx)
		if err != nil {
			return head, nil, err
		}
		all = all[:0]
		for _, k := range kinds {
			cs, err := st.List(ctx, k)
			if err != nil {
				return head, nil, err
			}
			all = append(all, cs...)
		}
		h2, err := st.Head(ctx)
		if err != nil {
			return head, nil, err
		}
		head = h1
		if h1.Revision == h2.Revision {
			break
		}
	}
	return head, all, nil
}

// encodedSnapshot is a snapshot ready to be written: its frames, without
// the end, which says its revision and count.
type encodedSnapshot struct {
	head   storage.Head
	frames [][]byte
	count  int
}

// encodeSnapshot packs what v shows of all into snapshot frames of about
// frameBytes or pageSize records.
func encodeSnapshot(v *view, head storage.Head, all []shared.Change) (*encodedSnapshot, error) {
	snap := &encodedSnapshot{head: head}
	var batch []wire.Change
	size := 0
	flush := func() error {
		b, err := wire.EncodeTrusted(&wire.Snapshot{Revision: head.Revision, Records: batch})
		snap.frames = append(snap.frames, b)
		batch, size = nil, 0
		return err
	}
	for _, c := range all {
		w, ok, err := v.show(c)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		batch = append(batch, w)
		size += len(w.Data) + 64
		snap.count++
		if size >= frameBytes || len(batch) >= pageSize {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return snap, nil
}

// read handles the leaf's frames until the link closes.
func (l *link) read(ctx context.Context) error {
	h := l.hub
	var buf []byte
	for {
		typ, b, err := l.readMessage(ctx, buf)
		if err != nil {
			return gone(err)
		}
		if cap(b) <= maxKeptReadBuffer {
			buf = b[:0]
		} else {
			buf = nil
		}
		if typ != websocket.MessageText {
			return closeWith(wire.CloseMalformed, "expected a text frame")
		}
		now := h.now()
		if err := l.admitFrame(now, len(b)); err != nil {
			return err
		}
		applied, isAck := quickAck(b)
		var f wire.Frame
		if !isAck {
			if f, err = wire.Decode(b); err != nil {
				return closeWith(wire.CloseMalformed, "%s", shared.ErrorMessage(err))
			}
			if ack, ok := f.(*wire.Ack); ok {
				applied, isAck = ack.Applied, true
			}
		}
		if isAck {
			if sent := l.sent.Load(); applied > sent {
				return closeWith(wire.CloseMalformed, "ack of revision %d, but only %d was sent", applied, sent)
			}
			h.seen(l.node, func(in *shared.LeafNode) { in.LastSeen, in.Applied = now, applied })
			continue
		}
		h.seen(l.node, func(in *shared.LeafNode) { in.LastSeen = now })
		switch f := f.(type) {
		case *wire.SpaceReport:
			if err := l.send(ctx, l.report(ctx, f)); err != nil {
				return err
			}
		case *wire.CommandResult:
			l.deliver(f)
		case *wire.AgentStates:
			if l.proto < 5 {
				return closeWith(wire.CloseMalformed, "agent states need protocol 5, and this link speaks %d", l.proto)
			}
			if f.Location != "" {
				return closeWith(wire.CloseMalformed, "a leaf's agent states name no location: it speaks for its own")
			}
			l.agentStates(f)
		case *wire.AuditReport:
			if l.proto < 2 {
				return closeWith(wire.CloseMalformed, "audit reports need protocol 2, and this link speaks %d", l.proto)
			}
			ack, err := l.audit(ctx, f)
			if err != nil {
				return err
			}
			if err := l.send(ctx, ack); err != nil {
				return err
			}
		default:
			return closeWith(wire.CloseMalformed, "unexpected %s frame from a leaf", f.FrameType())
		}
	}
}

// maxKeptReadBuffer is the largest read buffer a link keeps between
// frames: acks fit, large space reports get their own.
const maxKeptReadBuffer = 1 << 10

// readMessage reads one message into buf, which it grows as needed; the
// returned bytes are valid until the next call. Unlike Conn.Read it does not
// allocate for each of the small frames leaves send most, their acks.
func (l *link) readMessage(ctx context.Context, buf []byte) (websocket.MessageType, []byte, error) {
	typ, r, err := l.conn.Reader(ctx)
	if err != nil {
		return 0, nil, err
	}
	b := buf[:0]
	if cap(b) == 0 {
		b = make([]byte, 0, 64)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return typ, b, nil
		}
		if err != nil {
			return 0, nil, err
		}
	}
}

// ping measures the round trip with a websocket ping, unless one is under
// way, in a goroutine that lives until the answer. It ends the link when the
// leaf does not answer within twice the keep-alive interval. The streamer
// calls it when the link starts and at every keep-alive.
func (l *link) ping(ctx context.Context) {
	if !l.pinging.CompareAndSwap(false, true) {
		return
	}
	l.pings.Add(1)
	go func() {
		defer l.pings.Done()
		defer l.pinging.Store(false)
		h := l.hub
		start := time.Now()
		pctx, cancel := context.WithTimeout(ctx, 2*h.keepAlive)
		err := l.conn.Ping(pctx)
		timedOut := pctx.Err() != nil
		cancel()
		switch {
		case ctx.Err() != nil:
		case timedOut:
			l.end(closeWith(wire.CloseTimeout, "the leaf did not answer a ping within %s", 2*h.keepAlive))
		case err != nil:
			l.end(err)
		default:
			rtt := time.Since(start)
			h.seen(l.node, func(in *shared.LeafNode) { in.RTT, in.LastSeen = rtt, h.now() })
		}
	}()
}
