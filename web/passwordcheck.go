package web

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// passwordChecks bounds the password hashing of the whole server. A bcrypt
// check takes tens of milliseconds of a core, so a burst of logins could
// otherwise keep every core busy and make each login wait for all the
// others. At most cap(slots), about the number of cores, run at once; a check
// that finds every slot taken waits up to wait for one, then is refused.
type passwordChecks struct {
	slots chan struct{}
	wait  time.Duration
	// check compares a password with a hash, and with an empty hash spends
	// the time of a check and reports false.
	check func(hash, password string) bool
}

func newPasswordChecks() *passwordChecks {
	return &passwordChecks{
		slots: make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
		wait:  time.Second,
		check: checkOrBurn,
	}
}

func checkOrBurn(hash, password string) bool {
	if hash == "" {
		crypt.BurnPasswordCheck(password)
		return false
	}
	return crypt.CheckPassword(hash, password)
}

// passwordAttempt is one password check let through the login limits. It
// holds a hashing slot until check or end.
type passwordAttempt struct {
	pc      *passwordChecks
	res     *loginReservation
	holding bool // holds a slot
	checked bool
}

// beginPasswordCheck admits one check of a password for the account with
// email, from r's address. It counts the attempt as failed until succeed is
// called, and takes a hashing slot. It fails with ERATELIMIT and a retry time
// when a login limit is used up (the first refusal of each limit's key in a
// window is recorded in the audit log, later ones are not) or when no hashing
// slot frees in time. The caller defers end.
func (s *Server) beginPasswordCheck(r *http.Request, email string) (*passwordAttempt, error) {
	account, addr := shortKey(email), clientIP(r)
	res, refusal := s.limits.reserve(account, addr)
	if refusal != nil {
		if refusal.first {
			s.auditRefusal(r, email, addr, refusal)
		}
		return nil, &retryError{
			err:   shared.Errorf(shared.ERATELIMIT, "too many failed logins: try again in %d seconds", int(refusal.wait.Seconds()+0.999)),
			after: refusal.wait,
		}
	}
	a := &passwordAttempt{pc: s.passwords, res: res}
	select {
	case a.pc.slots <- struct{}{}:
	default:
		t := time.NewTimer(a.pc.wait)
		defer t.Stop()
		select {
		case a.pc.slots <- struct{}{}:
		case <-t.C:
			res.cancel()
			return nil, &retryError{
				err:   shared.Errorf(shared.ERATELIMIT, "the server is busy checking other passwords: try again in a second"),
				after: time.Second,
			}
		case <-r.Context().Done():
			res.cancel()
			return nil, shared.Errorf(shared.EUNAVAILABLE, "the request ended while it waited for a password check")
		}
	}
	a.holding = true
	return a, nil
}

// shortKey is the limiter key of an email: lower case, and at most 254
// bytes (the longest valid email), so that a long one costs no more memory.
func shortKey(email string) string {
	if len(email) > 254 {
		email = email[:254]
	}
	return strings.ToLower(email)
}

// check compares password with hash (an empty hash spends the same time and
// reports false) and frees the hashing slot.
func (a *passwordAttempt) check(hash, password string) bool {
	ok := a.pc.check(hash, password)
	a.checked = true
	a.release()
	return ok
}

// succeed gives the attempt back to the limits: it did not fail.
func (a *passwordAttempt) succeed() { a.res.succeed() }

// end frees the slot of an attempt whose password was never checked and
// gives the attempt back; after check it does nothing.
func (a *passwordAttempt) end() {
	if !a.checked {
		a.res.cancel()
	}
	a.release()
}

func (a *passwordAttempt) release() {
	if a.holding {
		a.holding = false
		<-a.pc.slots
	}
}

// auditRefusal records that logins for email from addr are refused until
// the refusing limit's window ends. It is called once per limit key and
// window, so a burst of refused attempts leaves one event.
func (s *Server) auditRefusal(r *http.Request, email, addr string, f *loginRefusal) {
	until := s.now().Add(f.wait).UTC().Truncate(time.Second)
	var why string
	switch f.limit {
	case "account_address":
		why = fmt.Sprintf("%d failed attempts for %s from %s within %v", loginFailsPerPair, email, addr, loginPairWindow)
	case "account":
		why = fmt.Sprintf("%d failed attempts for %s within %v", loginFailsPerAccount, email, loginAccountWindow)
	default:
		why = fmt.Sprintf("%d failed attempts from %s within %v", loginFailsPerAddress, addr, loginAddressWindow)
	}
	s.auditAs(r, email, "", "Login Rate Limited",
		"logins refused until "+until.Format(time.RFC3339)+" after "+why+"; further refusals until then are not recorded one by one",
		map[string]string{"limit": f.limit, "until": until.Format(time.RFC3339)})
}
