package web

import (
	"sync"
	"time"
)

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
