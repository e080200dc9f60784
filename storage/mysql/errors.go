package mysql

import (
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"strings"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// Server error numbers the store tells apart.
const (
	errDupEntry       = 1062
	errLockDeadlock   = 1213
	errDataTooLong    = 1406
	errPacketTooLarge = 1153
)

// unavailable lists the server errors that mean the server cannot serve us
// now or at all: refused logins, a missing database, shutdown, read-only
// mode, too many connections, killed connections, a lock held too long.
var unavailable = map[uint16]string{
	1040: "has too many connections",
	1044: "denies access to the database",
	1045: "refuses the login",
	1049: "has no such database",
	1053: "is shutting down",
	1129: "blocks this host",
	1130: "does not let this host connect",
	1205: "timed out waiting for a lock",
	1290: "is read-only",
	1836: "is read-only",
	1927: "killed the connection",
}

// fail turns err into a *shared.Error: coded errors pass through, the
// server's and the network's are classified and wrapped with what was being
// done and where.
func (s *Store) fail(err error, format string, args ...any) error {
	return driver.Fail(err, s.classify, format, args...)
}

// classify wraps an uncoded error of the server, the driver or the network
// with what was being done.
func (s *Store) classify(err error, what string) error {
	var me *gomysql.MySQLError
	if errors.As(err, &me) {
		switch {
		case me.Number == errDupEntry:
			return shared.Wrap(shared.ECONFLICT, err, "mysql: %s: a row with that key exists", what)
		case me.Number == errDataTooLong:
			return shared.Wrap(shared.EINVALID, err, "mysql: %s: a value is too long", what)
		case me.Number == errPacketTooLarge || strings.Contains(me.Message, "max_allowed_packet"):
			return shared.Wrap(shared.ETOOLARGE, err, "mysql: %s: too large for the server's max_allowed_packet", what)
		case unavailable[me.Number] != "":
			return shared.Wrap(shared.EUNAVAILABLE, err, "mysql: %s: the server at %s %s", what, s.addr, unavailable[me.Number])
		}
		return shared.Wrap(shared.EINTERNAL, err, "mysql: %s", what)
	}
	if errors.Is(err, gomysql.ErrPktTooLarge) {
		return shared.Wrap(shared.ETOOLARGE, err, "mysql: %s: too large for the server's max_allowed_packet", what)
	}
	if connectionError(err) {
		return shared.Wrap(shared.EUNAVAILABLE, err, "mysql: %s: cannot reach the server at %s", what, s.addr)
	}
	return shared.Wrap(shared.EINTERNAL, err, "mysql: %s", what)
}

// connectionError reports whether err means the connection to the server
// failed or the caller gave up waiting for it.
func connectionError(err error) bool {
	return driver.ConnectionError(err, sqldriver.ErrBadConn, gomysql.ErrInvalidConn, sql.ErrConnDone)
}

// deadlock reports whether err is InnoDB choosing this transaction as the
// victim of a deadlock, after which it may simply run again.
func deadlock(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && me.Number == errLockDeadlock
}
