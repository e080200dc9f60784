package origin

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/knot-dev/knot/shared"
)

// The log of refused leaf credentials is throttled: anyone can knock on
// GET /api/leaf-server, and a line per refusal would let them fill the
// log. Each source (the remote address, without its port) gets at most
// one line per refusalEvery; the line after a quiet spell says how many
// refusals of that source were not logged. The table of sources holds at
// most maxRefusalSources; the sources beyond it, while it is full, share
// one entry, logged as "(other sources)".
const (
	refusalEvery      = time.Minute
	maxRefusalSources = 1024
	otherSources      = "(other sources)"
)

// refusalLog throttles the log of refused leaf credentials. Its zero value
// is ready for use.
type refusalLog struct {
	mu      sync.Mutex
	sources map[string]*refusalSource // guarded by mu
	sweptAt time.Time                 // guarded by mu
	dropped int                       // guarded by mu: refusals not logged of sources dropped from the table
}

type refusalSource struct {
	loggedAt   time.Time // when its last line was written
	suppressed int       // refusals since then that were not logged
}

// AuthenticateFrom is Authenticate for a credential offered from remote:
// a refused one is logged or counted as Refused does.
func (h *Hub) AuthenticateFrom(ctx context.Context, bearer, remote string) (Credential, error) {
	cred, err := h.Authenticate(ctx, bearer)
	if shared.ErrorCode(err) == shared.EUNAUTHORIZED {
		h.Refused(ctx, remote, shared.ErrorMessage(err))
	}
	return cred, err
}

// Refused logs, or counts, a leaf credential that Authenticate refused
// for reason, offered from remote (an address with or without its port).
func (h *Hub) Refused(ctx context.Context, remote, reason string) {
	src := remote
	if host, _, err := net.SplitHostPort(src); err == nil {
		src = host
	}
	if n, ok := h.refusals.admit(src, h.now()); ok {
		attrs := []any{"remote", src, "reason", reason}
		if n > 0 {
			attrs = append(attrs, "suppressed", n)
		}
		h.log.WarnContext(ctx, "leaf credential refused", attrs...)
	}
	if n := h.refusals.takeDropped(); n > 0 {
		h.log.WarnContext(ctx, "leaf credential refusals not logged", "remote", "(sources gone quiet)", "suppressed", n)
	}
}

// admit reports whether a refusal of src at now is logged, and how many
// refusals of src were not logged since its last line. Sources gone quiet
// for refusalEvery with refusals not yet logged are logged when they are
// dropped from the table.
func (l *refusalLog) admit(src string, now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sources == nil {
		l.sources = map[string]*refusalSource{}
	}
	e := l.sources[src]
	if e == nil && len(l.sources) >= maxRefusalSources {
		l.sweep(now)
		if len(l.sources) >= maxRefusalSources {
			src = otherSources
			e = l.sources[src]
		}
	}
	if e == nil {
		l.sources[src] = &refusalSource{loggedAt: now}
		return 0, true
	}
	if now.Sub(e.loggedAt) < refusalEvery {
		e.suppressed++
		return 0, false
	}
	n := e.suppressed
	e.loggedAt, e.suppressed = now, 0
	return n, true
}

// sweep drops the sources whose last line is older than refusalEvery, at
// most once a second. The refusals of theirs not yet logged are counted in
// dropped, for one line of their own.
func (l *refusalLog) sweep(now time.Time) {
	if now.Sub(l.sweptAt) < time.Second {
		return
	}
	l.sweptAt = now
	for src, e := range l.sources {
		if now.Sub(e.loggedAt) >= refusalEvery {
			l.dropped += e.suppressed
			delete(l.sources, src)
		}
	}
}

// takeDropped returns and resets the count of refusals not logged of the
// sources sweep dropped.
func (l *refusalLog) takeDropped() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.dropped
	l.dropped = 0
	return n
}
