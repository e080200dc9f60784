package origin

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

// Fan-out. Every trusted leaf sees the same view, so the page of the feed
// after a revision is the same for every trusted link at that revision: the
// hub reads it from the store, filters and encodes it once, and each of
// those links writes the same bytes. After a write, all the links that were
// current share one page; after a restart of the origin, the links that
// resume from the same revision do.
//
// A page is computed by the first link that asks for it, while the others
// wait for it. A page may be used by a link that learned of head revision
// `known` (the hub's head when it started pumping, or the store's head the
// link itself read last, at its welcome or keep-alive) if the hub already knew
// of that revision when the page was started, since the store is read after
// that, or if the page holds an entry at or after it; otherwise the link
// starts a new page. (The head read after the page says nothing about what
// the page holds: a write may land between the two reads.)

// keptPages is how many pages the hub keeps, keptBytes the most they hold
// together. A page evicted is still shared by the links that asked for it
// while it was made.
const (
	keptPages = 16
	keptBytes = 16 << 20
)

// writeTimeout bounds one write to a leaf.
const writeTimeout = 30 * time.Second

// page is one page of the feed after revision from, encoded for the
// trusted view with or without spaces.
type page struct {
	from   int64
	spaces bool
	known  int64         // the hub's head when the page was started
	done   chan struct{} // closed when the fields below are set

	head   storage.Head // read after the page
	last   int64        // the revision of the page's last entry, from if none
	frames []encodedFrame
	full   bool     // the page held pageSize entries: more may follow
	tokens []string // ids of the leaf tokens the page changed or deleted
	size   int
	err    error

	kept bool // guarded by pages.mu: size counts in pages.bytes
}

// encodedFrame is a change frame ready to be written.
type encodedFrame struct {
	rev int64
	b   []byte
}

// pages holds the pages of the trusted view. The zero value is ready.
type pages struct {
	known atomic.Int64 // the store's head revision as Run last saw it

	mu    sync.Mutex
	m     map[pageKey]*page // guarded by mu
	bytes int               // guarded by mu: the bytes of the kept pages
}

// pageKey names a page: the revision it follows, and whether its view
// holds spaces.
type pageKey struct {
	from   int64
	spaces bool
}

// drop forgets the page of k, under mu.
func (ps *pages) drop(k pageKey) {
	if p := ps.m[k]; p != nil && p.kept {
		ps.bytes -= p.size
		p.kept = false
	}
	delete(ps.m, k)
}

// evict drops the pages after the oldest revisions until at most keptPages
// and keptBytes remain, under mu. Pages under way hold no bytes yet and are
// dropped by count only.
func (ps *pages) evict() {
	for len(ps.m) > keptPages || ps.bytes > keptBytes {
		var oldest pageKey
		found := false
		for k, p := range ps.m {
			if (!found || k.from < oldest.from) && (p.kept || len(ps.m) > keptPages) {
				oldest, found = k, true
			}
		}
		if !found {
			return
		}
		ps.drop(oldest)
	}
}

// knownHead returns the store's head revision as the hub last saw it.
func (h *Hub) knownHead() int64 { return h.pages.known.Load() }

// trustedPage returns the page after from, of the trusted view with or
// without spaces, that holds at least every revision up to known (or a full
// page), computing it when no usable one is kept or under way.
func (h *Hub) trustedPage(ctx context.Context, from, known int64, spaces bool) (*page, error) {
	ps := &h.pages
	key := pageKey{from, spaces}
	ps.mu.Lock()
	p := ps.m[key]
	if p != nil && p.known < known {
		select {
		case <-p.done:
			if p.err != nil || !p.full && p.last < known {
				p = nil
			}
		default:
			p = nil
		}
	}
	mine := p == nil
	if mine {
		p = &page{from: from, spaces: spaces, known: h.knownHead(), done: make(chan struct{})}
		if ps.m == nil {
			ps.m = map[pageKey]*page{}
		}
		ps.drop(key)
		ps.m[key] = p
		ps.evict()
	}
	ps.mu.Unlock()
	if mine {
		h.makePage(p)
		ps.mu.Lock()
		if ps.m[key] == p {
			if p.err != nil {
				ps.drop(key)
			} else {
				p.kept = true
				ps.bytes += p.size
				ps.evict()
			}
		}
		ps.mu.Unlock()
	} else {
		select {
		case <-p.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	return p, nil
}

// makePage reads, filters and encodes page p and closes p.done. It works
// under the hub's context, not the asking link's: other links wait for it.
func (h *Hub) makePage(p *page) {
	defer close(p.done)
	h.mu.Lock()
	ctx := h.runCtx
	h.mu.Unlock()
	st := h.store
	cs, err := st.Changes(ctx, p.from, pageSize)
	if err != nil {
		p.err = err
		return
	}
	// Read the head after the page: a compaction that could have taken
	// tombstones from the page shows in the horizon.
	if p.head, err = st.Head(ctx); err != nil {
		p.err = err
		return
	}
	p.full = len(cs) == pageSize
	p.last = p.from
	if len(cs) > 0 {
		p.last = cs[len(cs)-1].Revision
	}
	v := view{spaces: p.spaces}
	groups := make([]group, len(cs))
	for i, c := range cs {
		groups[i].rev = c.Revision
		if c.Kind == shared.KindLeafToken {
			p.tokens = append(p.tokens, c.ID)
		}
		w, ok, err := v.filter(c)
		if err != nil {
			p.err = err
			return
		}
		if ok {
			groups[i].add(w)
		}
	}
	p.frames, p.err = encodeGroups(p.from, groups)
	for _, f := range p.frames {
		p.size += len(f.b)
	}
}

// encodeGroups packs groups into change frames of about frameBytes, the
// first following revision from. The records come from the store, or were
// encoded by the view: wire.EncodeTrusted need not read them again.
func encodeGroups(from int64, groups []group) ([]encodedFrame, error) {
	var out []encodedFrame
	var batch []wire.Change
	size := 0
	for i, g := range groups {
		batch = append(batch, g.out...)
		size += g.size
		if size < frameBytes && i < len(groups)-1 {
			continue
		}
		b, err := wire.EncodeTrusted(&wire.Changes{Prev: from, Revision: g.rev, Changes: batch})
		if err != nil {
			return nil, err
		}
		out = append(out, encodedFrame{rev: g.rev, b: b})
		from = g.rev
		batch, size = nil, 0
	}
	return out, nil
}

// pumpShared is pump for a trusted link: it sends the shared page after the
// leaf's revision. It reports whether more may be waiting.
func (l *link) pumpShared(ctx context.Context) (bool, error) {
	p, err := l.hub.trustedPage(ctx, l.rev, max(l.hub.knownHead(), l.seen), l.view.spaces)
	if err != nil {
		return false, err
	}
	if p.head.Epoch != l.epoch {
		return false, closeWith(wire.CloseStartOver, "the origin's store was replaced; reconnect for a snapshot")
	}
	if l.rev < p.head.Horizon {
		return false, closeWith(wire.CloseStartOver, "the leaf fell behind the origin's tombstone horizon; reconnect for a snapshot")
	}
	if err := l.sendFrames(ctx, p.frames); err != nil {
		return false, err
	}
	if l.cred.Kind == CredentialLeafToken && slices.Contains(p.tokens, l.cred.TokenID) {
		if err := l.checkCredential(ctx); err != nil {
			return false, err
		}
	}
	return p.full, nil
}

// sendFrames writes encoded change frames that follow the leaf's revision.
// Only the streamer calls it. Like send, a write is bounded by a timeout
// and not by ctx; the timeout is one timer of the link, which closes the
// connection when it fires, rather than a context per write.
func (l *link) sendFrames(ctx context.Context, frames []encodedFrame) error {
	for _, f := range frames {
		l.sent.Store(f.rev) // before the send: the ack may come back at once
		if l.stuck == nil {
			l.stuck = time.AfterFunc(time.Hour, func() { l.conn.CloseNow() })
		}
		l.stuck.Reset(writeTimeout)
		err := l.conn.Write(context.Background(), websocket.MessageText, f.b)
		l.stuck.Stop()
		if err != nil {
			return err
		}
		l.rev = f.rev
	}
	return nil
}

// quickAck reads an ack frame as a leaf writes it, {"type":"ack","applied":N},
// without the JSON decoder: acks are most of what leaves send. ok is false
// for anything else, which the caller decodes in full.
func quickAck(b []byte) (applied int64, ok bool) {
	const prefix, suffix = `{"type":"ack","applied":`, `}`
	if len(b) <= len(prefix)+len(suffix) || len(b) > len(prefix)+len(suffix)+18 ||
		string(b[:len(prefix)]) != prefix || b[len(b)-1] != '}' {
		return 0, false
	}
	for _, c := range b[len(prefix) : len(b)-1] {
		if c < '0' || c > '9' {
			return 0, false
		}
		applied = applied*10 + int64(c-'0')
	}
	return applied, true
}

// Snapshots. The trusted snapshot is the same for every trusted link at one
// revision, and after an origin's store is replaced every leaf asks for one
// at once. The hub lists and encodes it once for all the links that ask
// while it is being made, or later while the store's head is where it was,
// for snapshotKept at most.

// snapshotKept is how long a made trusted snapshot is kept for reuse.
const snapshotKept = time.Minute

// sharedSnapshot is a trusted snapshot being made or made.
type sharedSnapshot struct {
	done chan struct{} // closed when snap or err is set
	snap *encodedSnapshot
	err  error
}

// snapshots holds the latest trusted snapshots. The zero value is ready.
type snapshots struct {
	mu sync.Mutex
	m  map[bool]*sharedSnapshot // guarded by mu: by whether the view holds spaces
}

// trustedSnapshot returns the trusted snapshot, with or without spaces: the
// one under way, or the last one made if the store's head has not moved
// since, or a new one.
func (h *Hub) trustedSnapshot(ctx context.Context, spaces bool) (*encodedSnapshot, error) {
	head, err := h.store.Head(ctx)
	if err != nil {
		return nil, err
	}
	ss := &h.snaps
	ss.mu.Lock()
	s := ss.m[spaces]
	if s != nil {
		select {
		case <-s.done:
			if s.err != nil || s.snap.head.Epoch != head.Epoch || s.snap.head.Revision != head.Revision {
				s = nil
			}
		default: // under way: wait for it
		}
	}
	mine := s == nil
	if mine {
		s = &sharedSnapshot{done: make(chan struct{})}
		if ss.m == nil {
			ss.m = map[bool]*sharedSnapshot{}
		}
		ss.m[spaces] = s
	}
	ss.mu.Unlock()
	if !mine {
		select {
		case <-s.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return s.snap, s.err
	}
	// Made under the hub's context, not the asking link's: others wait.
	h.mu.Lock()
	runCtx := h.runCtx
	h.mu.Unlock()
	v := &view{spaces: spaces}
	head, all, err := listSnapshot(runCtx, h.store, v.kinds())
	if err == nil {
		s.snap, err = encodeSnapshot(v, head, all)
	}
	s.err = err
	close(s.done)
	forget := func() {
		ss.mu.Lock()
		if ss.m[spaces] == s {
			delete(ss.m, spaces)
		}
		ss.mu.Unlock()
	}
	if err != nil {
		forget()
	} else {
		time.AfterFunc(snapshotKept, forget)
	}
	return s.snap, s.err
}
