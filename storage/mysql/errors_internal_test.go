package mysql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/knot-dev/knot/shared"
)

func TestFailClassifiesErrors(t *testing.T) {
	s := &Store{addr: "db.example:3306"}
	for _, tt := range []struct {
		name string
		err  error
		code string
		says string
	}{
		{"DuplicateKeyConflicts", &gomysql.MySQLError{Number: 1062, Message: "Duplicate entry 'x' for key 'PRIMARY'"}, shared.ECONFLICT, "a row with that key exists"},
		{"TooLongValueIsInvalid", &gomysql.MySQLError{Number: 1406, Message: "Data too long for column 'id'"}, shared.EINVALID, "too long"},
		{"HugePacketIsTooLarge", &gomysql.MySQLError{Number: 1153, Message: "Got a packet bigger than 'max_allowed_packet' bytes"}, shared.ETOOLARGE, "max_allowed_packet"},
		{"HugeParameterIsTooLarge", &gomysql.MySQLError{Number: 1105, Message: "Parameter of prepared statement which is set through mysql_send_long_data() is longer than 'max_allowed_packet' bytes"}, shared.ETOOLARGE, "max_allowed_packet"},
		{"ClientSidePacketLimitIsTooLarge", gomysql.ErrPktTooLarge, shared.ETOOLARGE, "max_allowed_packet"},
		{"RefusedLoginIsUnavailable", &gomysql.MySQLError{Number: 1045, Message: "Access denied"}, shared.EUNAVAILABLE, "db.example:3306 refuses the login"},
		{"LockWaitTimeoutIsUnavailable", &gomysql.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded"}, shared.EUNAVAILABLE, "timed out waiting for a lock"},
		{"ReadOnlyServerIsUnavailable", &gomysql.MySQLError{Number: 1290, Message: "--read-only"}, shared.EUNAVAILABLE, "is read-only"},
		{"RefusedConnectionIsUnavailable", &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("connection refused")}, shared.EUNAVAILABLE, "cannot reach the server at db.example:3306"},
		{"BrokenConnectionIsUnavailable", gomysql.ErrInvalidConn, shared.EUNAVAILABLE, "db.example:3306"},
		{"BadConnIsUnavailable", driver.ErrBadConn, shared.EUNAVAILABLE, "db.example:3306"},
		{"CutConnectionIsUnavailable", io.ErrUnexpectedEOF, shared.EUNAVAILABLE, "db.example:3306"},
		{"GivingUpIsUnavailable", context.DeadlineExceeded, shared.EUNAVAILABLE, "db.example:3306"},
		{"OtherServerErrorIsInternal", &gomysql.MySQLError{Number: 1146, Message: "Table 'knot.records' doesn't exist"}, shared.EINTERNAL, "put user u1"},
		{"CodedErrorPassesThrough", shared.Errorf(shared.ENOTFOUND, "user u1 not found"), shared.ENOTFOUND, "user u1 not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.fail(fmt.Errorf("wrapped: %w", tt.err), "put %s %s", "user", "u1")
			if code := shared.ErrorCode(err); code != tt.code {
				t.Fatalf("code %q (%v), want %q", code, err, tt.code)
			}
			if msg := shared.ErrorMessage(err); !strings.Contains(msg, tt.says) {
				t.Fatalf("message %q does not say %q", msg, tt.says)
			}
		})
	}
	if s.fail(nil, "x") != nil {
		t.Fatal("fail(nil) is not nil")
	}
}

func TestDeadlockIsToldApart(t *testing.T) {
	if !deadlock(fmt.Errorf("commit: %w", &gomysql.MySQLError{Number: 1213})) {
		t.Fatal("error 1213 is not taken for a deadlock")
	}
	if deadlock(&gomysql.MySQLError{Number: 1205}) {
		t.Fatal("a lock wait timeout is taken for a deadlock")
	}
}
