package redis

import (
	"errors"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// unavailable maps the prefixes of Redis error replies that mean the server
// cannot serve the store now to what they say about it.
var unavailable = []struct{ prefix, says string }{
	{"NOAUTH", "wants a password"},
	{"WRONGPASS", "refuses the login"},
	{"ERR invalid password", "refuses the login"},
	{"ERR AUTH", "refuses the login"},
	{"NOPERM", "does not let this user run the store's commands"},
	{"ERR DB index is out of range", "has no such database"},
	{"LOADING", "is loading its data"},
	{"READONLY", "is a read-only replica"},
	{"MASTERDOWN", "has lost its master"},
	{"CLUSTERDOWN", "says the cluster is down"},
	{"TRYAGAIN", "is moving the store's keys"},
	{"BUSY", "is busy running a script"},
	{"OOM", "is out of memory"},
	{"MISCONF", "cannot save its data and refuses writes"},
}

// fail turns err into a *shared.Error: coded errors pass through, the
// server's and the network's are classified and wrapped with what was being
// done and where.
func (s *Store) fail(err error, format string, args ...any) error {
	return driver.Fail(err, s.classify, format, args...)
}

// classify wraps an uncoded error of the server, the client or the network
// with what was being done.
func (s *Store) classify(err error, what string) error {
	var re goredis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, u := range unavailable {
			if strings.HasPrefix(msg, u.prefix) {
				return shared.Wrap(shared.EUNAVAILABLE, err, "redis: %s: the server at %s %s", what, s.addr, u.says)
			}
		}
		return shared.Wrap(shared.EINTERNAL, err, "redis: %s", what)
	}
	if connectionError(err) {
		return shared.Wrap(shared.EUNAVAILABLE, err, "redis: %s: cannot reach the server at %s", what, s.addr)
	}
	return shared.Wrap(shared.EINTERNAL, err, "redis: %s", what)
}

// connectionError reports whether err means the connection to the server
// failed or the caller gave up waiting for it.
func connectionError(err error) bool {
	return driver.ConnectionError(err, goredis.ErrClosed, goredis.ErrPoolTimeout)
}
