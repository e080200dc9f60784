package origin

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// Logins bounds password checks before they cost anything: an attempt is
// counted as failed before its password is hashed, under the login limits
// below, and at most about one password hash per core runs at once. One
// Logins serves every password check of a server (logins, and a user's
// current password when they change it), so the limits are shared.
type Logins struct {
	limits *loginLimiter
	slots  chan struct{}
	wait   time.Duration
	check  func(hash, password string) bool
	now    func() time.Time
}

// LoginsOptions configures Logins.
type LoginsOptions struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Slots is how many password checks run at once; 0 means the number
	// of cores, at least 2.
	Slots int
	// Wait is how long a check waits for a free slot before it is refused;
	// 0 means a second.
	Wait time.Duration
	// Check compares a password with a hash, and with an empty hash spends
	// the time of a check and reports false; nil means CheckPasswordOrBurn.
	Check func(hash, password string) bool
}

// NewLogins returns the login limits and hashing slots of opts.
func NewLogins(opts LoginsOptions) *Logins {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Slots <= 0 {
		opts.Slots = max(2, runtime.GOMAXPROCS(0))
	}
	if opts.Wait <= 0 {
		opts.Wait = time.Second
	}
	if opts.Check == nil {
		opts.Check = CheckPasswordOrBurn
	}
	return &Logins{limits: newLoginLimiter(opts.Now), slots: make(chan struct{}, opts.Slots),
		wait: opts.Wait, check: opts.Check, now: opts.Now}
}

// CheckPasswordOrBurn compares password with hash; with an empty hash it
// spends the time of a check and reports false.
func CheckPasswordOrBurn(hash, password string) bool {
	if hash == "" {
		crypt.BurnPasswordCheck(password)
		return false
	}
	return crypt.CheckPassword(hash, password)
}

// PasswordAttempt is one password check let through the login limits. It
// holds a hashing slot until Check or End.
type PasswordAttempt struct {
	l       *Logins
	res     *loginReservation
	holding bool // holds a slot
	checked bool
}

// Refusal is a login limit that refused an attempt, for the audit log.
type Refusal struct {
	// Limit is "account_address", "account" or "address".
	Limit string
	// Until is when the limit's window ends.
	Until time.Time
	// Why says what used the limit up.
	Why string
}

// Begin admits one check of a password for the account with email, from
// addr. It counts the attempt as failed until Succeed is called, and takes
// a hashing slot; the caller defers End. It fails with an ERATELIMIT
// *shared.RetryError when a login limit is used up (then refused is called
// for the first refusal of each limit's key in a window, and not for later
// ones) or when no hashing slot frees in time, and with EUNAVAILABLE when
// ctx ends while it waits.
func (l *Logins) Begin(ctx context.Context, email, addr string, refused func(Refusal)) (*PasswordAttempt, error) {
	account := shortKey(email)
	res, refusal := l.limits.reserve(account, addr)
	if refusal != nil {
		if refusal.first && refused != nil {
			refused(l.describe(email, addr, refusal))
		}
		return nil, &shared.RetryError{
			Err:   shared.Errorf(shared.ERATELIMIT, "too many failed logins: try again in %d seconds", int(refusal.wait.Seconds()+0.999)),
			After: refusal.wait,
		}
	}
	a := &PasswordAttempt{l: l, res: res}
	select {
	case l.slots <- struct{}{}:
	default:
		t := time.NewTimer(l.wait)
		defer t.Stop()
		select {
		case l.slots <- struct{}{}:
		case <-t.C:
			res.cancel()
			return nil, &shared.RetryError{
				Err:   shared.Errorf(shared.ERATELIMIT, "the server is busy checking other passwords: try again in a second"),
				After: time.Second,
			}
		case <-ctx.Done():
			res.cancel()
			return nil, shared.Errorf(shared.EUNAVAILABLE, "the request ended while it waited for a password check")
		}
	}
	a.holding = true
	return a, nil
}

// describe returns the refusal f of logins for email from addr.
func (l *Logins) describe(email, addr string, f *loginRefusal) Refusal {
	var why string
	switch f.limit {
	case "account_address":
		why = fmt.Sprintf("%d failed attempts for %s from %s within %v", loginFailsPerPair, email, addr, loginPairWindow)
	case "account":
		why = fmt.Sprintf("%d failed attempts for %s within %v", loginFailsPerAccount, email, loginAccountWindow)
	default:
		why = fmt.Sprintf("%d failed attempts from %s within %v", loginFailsPerAddress, addr, loginAddressWindow)
	}
	return Refusal{Limit: f.limit, Until: l.now().Add(f.wait).UTC().Truncate(time.Second), Why: why}
}

// AuditEvent returns the "Login Rate Limited" event of r for email.
func (r Refusal) AuditEvent(email string) *shared.AuditEvent {
	until := r.Until.Format(time.RFC3339)
	return &shared.AuditEvent{Actor: email, Event: "Login Rate Limited",
		Details:    "logins refused until " + until + " after " + r.Why + "; further refusals until then are not recorded one by one",
		Properties: map[string]string{"limit": r.Limit, "until": until}}
}

// shortKey is the limiter key of an email: lower case, and at most 254
// bytes (the longest valid email), so that a long one costs no more memory.
func shortKey(email string) string {
	if len(email) > 254 {
		email = email[:254]
	}
	return strings.ToLower(email)
}

// Check compares password with hash (an empty hash spends the same time
// and reports false) and frees the hashing slot.
func (a *PasswordAttempt) Check(hash, password string) bool {
	ok := a.l.check(hash, password)
	a.checked = true
	a.release()
	return ok
}

// Succeed gives the attempt back to the limits: it did not fail.
func (a *PasswordAttempt) Succeed() { a.res.succeed() }

// End frees the slot of an attempt whose password was never checked and
// gives the attempt back; after Check it does nothing.
func (a *PasswordAttempt) End() {
	if !a.checked {
		a.res.cancel()
	}
	a.release()
}

func (a *PasswordAttempt) release() {
	if a.holding {
		a.holding = false
		<-a.l.slots
	}
}

// Login limits: failed attempts allowed per window. An attempt counts as a
// failure from before its password is checked (see loginLimiter.reserve), and
// a success gives it back.
//
// The limit of one account from one address is low, so a guesser at one
// address gets few tries. The limit of one account from any address is higher
// and its window longer, so that a guesser at one address never reaches it
// (30 an hour at most) and its owner can still log in from elsewhere, while
// guessers spread over many addresses are still stopped. The limit of one
// address over all accounts stops one address from trying many accounts.
const (
	loginPairWindow      = 10 * time.Minute
	loginFailsPerPair    = 5
	loginAccountWindow   = time.Hour
	loginFailsPerAccount = 50
	loginAddressWindow   = time.Minute
	loginFailsPerAddress = 20
	// limiterCap bounds the number of keys each limiter tracks.
	limiterCap = 10000
)

// failWindow counts failures of one key in a fixed window.
type failWindow struct {
	start    time.Time
	count    int
	reported bool // a refusal in this window was recorded in the audit log
}

// failLimiter counts failures per key in fixed windows. Its memory is
// bounded: at limiterCap keys it drops expired windows first and then
// arbitrary ones.
type failLimiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*failWindow // guarded by mu
}

func newFailLimiter(limit int, window time.Duration, now func() time.Time) *failLimiter {
	return &failLimiter{limit: limit, window: window, now: now, keys: map[string]*failWindow{}}
}

// blocked reports whether key used up its failures and, if so, how long
// until its window ends.
func (l *failLimiter) blocked(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fw := l.keys[key]
	if fw == nil {
		return false, 0
	}
	left := fw.start.Add(l.window).Sub(l.now())
	if left <= 0 {
		delete(l.keys, key)
		return false, 0
	}
	return fw.count >= l.limit, left
}

// fail counts one failure of key and returns the start of the window it
// counted in.
func (l *failLimiter) fail(key string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	fw := l.keys[key]
	if fw != nil && now.Sub(fw.start) < l.window {
		fw.count++
		return fw.start
	}
	if fw == nil && len(l.keys) >= limiterCap {
		l.shrink(now)
	}
	l.keys[key] = &failWindow{start: now, count: 1}
	return now
}

// reset forgets key.
func (l *failLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, key)
}

// shrink drops expired windows and, if that is not enough, arbitrary ones
// until a tenth of the capacity is free; the caller holds mu.
func (l *failLimiter) shrink(now time.Time) {
	for k, fw := range l.keys {
		if now.Sub(fw.start) >= l.window {
			delete(l.keys, k)
		}
	}
	for k := range l.keys {
		if len(l.keys) < limiterCap-limiterCap/10 {
			break
		}
		delete(l.keys, k)
	}
}

func (l *failLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// giveBack takes back a failure that take counted in the window that began
// at start; nothing when that window has ended.
func (l *failLimiter) giveBack(key string, start time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if fw := l.keys[key]; fw != nil && fw.start.Equal(start) && fw.count > 0 {
		fw.count--
	}
}

// firstRefusal reports whether this is the first refusal of key in its
// current window, and marks it.
func (l *failLimiter) firstRefusal(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	fw := l.keys[key]
	if fw == nil || fw.reported {
		return false
	}
	fw.reported = true
	return true
}

// loginLimiter limits failed logins per account and address, per account,
// and per address (see the constants above). Accounts are lower-case emails.
type loginLimiter struct {
	// mu makes a reservation over the three limiters one step, so that
	// concurrent attempts cannot all pass a check before any is counted.
	mu                         sync.Mutex
	pairs, accounts, addresses *failLimiter
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{
		pairs:     newFailLimiter(loginFailsPerPair, loginPairWindow, now),
		accounts:  newFailLimiter(loginFailsPerAccount, loginAccountWindow, now),
		addresses: newFailLimiter(loginFailsPerAddress, loginAddressWindow, now),
	}
}

// loginRefusal says which limit refused an attempt.
type loginRefusal struct {
	limit string        // "account_address", "account" or "address"
	key   string        // the key of that limit
	wait  time.Duration // until its window ends
	first bool          // the first refusal of key in this window
	fl    *failLimiter
}

// loginReservation is an attempt counted as a failure before its password
// is checked; succeed gives it back.
type loginReservation struct {
	l                     *loginLimiter
	pair, account, addr   string
	pairAt, accAt, addrAt time.Time
}

// reserve counts an attempt for account from addr as a failure, or refuses
// it when one of the limits is used up. Counting first means that of many
// concurrent attempts no more than the limit get their password checked.
func (l *loginLimiter) reserve(account, addr string) (*loginReservation, *loginRefusal) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pair := account + "\x00" + addr
	var refusal *loginRefusal
	for _, c := range []struct {
		limit, key string
		fl         *failLimiter
	}{{"account_address", pair, l.pairs}, {"account", account, l.accounts}, {"address", addr, l.addresses}} {
		if blocked, wait := c.fl.blocked(c.key); blocked && (refusal == nil || wait > refusal.wait) {
			refusal = &loginRefusal{limit: c.limit, key: c.key, wait: wait, fl: c.fl}
		}
	}
	if refusal != nil {
		refusal.first = refusal.fl.firstRefusal(refusal.key)
		return nil, refusal
	}
	res := &loginReservation{l: l, pair: pair, account: account, addr: addr}
	res.pairAt = l.pairs.fail(pair)
	res.accAt = l.accounts.fail(account)
	res.addrAt = l.addresses.fail(addr)
	return res, nil
}

// succeed gives the attempt back and forgets the failures of its account
// at its address.
func (r *loginReservation) succeed() {
	r.cancel()
	r.l.pairs.reset(r.pair)
}

// cancel gives the attempt back: its password was not checked.
func (r *loginReservation) cancel() {
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	r.l.pairs.giveBack(r.pair, r.pairAt)
	r.l.accounts.giveBack(r.account, r.accAt)
	r.l.addresses.giveBack(r.addr, r.addrAt)
}
