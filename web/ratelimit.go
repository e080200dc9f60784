package web

import (
	"sync"
	"time"
)

// Login limits: failed attempts allowed per window, per account (email) and
// per client address. Successful logins are not counted.
const (
	loginWindow          = time.Minute
	loginFailsPerAccount = 5
	loginFailsPerAddress = 20
	// limiterCap bounds the number of keys each limiter tracks.
	limiterCap = 10000
)

// failWindow counts failures of one key in a fixed window.
type failWindow struct {
	start time.Time
	count int
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

// fail counts one failure of key.
func (l *failLimiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	fw := l.keys[key]
	if fw != nil && now.Sub(fw.start) < l.window {
		fw.count++
		return
	}
	if fw == nil && len(l.keys) >= limiterCap {
		l.shrink(now)
	}
	l.keys[key] = &failWindow{start: now, count: 1}
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

// loginLimiter limits failed logins per account and per client address.
type loginLimiter struct {
	accounts, addresses *failLimiter
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{
		accounts:  newFailLimiter(loginFailsPerAccount, loginWindow, now),
		addresses: newFailLimiter(loginFailsPerAddress, loginWindow, now),
	}
}

// check reports whether a login for account from addr may be tried now and,
// if not, when to retry.
func (l *loginLimiter) check(account, addr string) (bool, time.Duration) {
	b1, w1 := l.accounts.blocked(account)
	b2, w2 := l.addresses.blocked(addr)
	switch {
	case b1 && b2:
		return false, max(w1, w2)
	case b1:
		return false, w1
	case b2:
		return false, w2
	}
	return true, 0
}

func (l *loginLimiter) fail(account, addr string) {
	l.accounts.fail(account)
	l.addresses.fail(addr)
}

func (l *loginLimiter) succeed(account string) { l.accounts.reset(account) }
