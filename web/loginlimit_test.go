package web_test

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/knot-dev/knot/web"
)

// fastChecks replaces bcrypt with a plain comparison against testPassword
// and counts the checks, for tests that make many attempts.
func fastChecks(e *env) *atomic.Int64 {
	var n atomic.Int64
	web.SetPasswordCheck(e.srv, 64, time.Minute, func(hash, pw string) bool {
		n.Add(1)
		return hash != "" && pw == testPassword
	})
	return &n
}

func loginFrom(e *env, addr, email, password string) *resp {
	return e.send(req{method: "POST", path: "/api/auth", remote: addr + ":1000",
		body: map[string]string{"email": email, "password": password}})
}

// burst sends n wrong logins for email from addr at once and returns how
// many were answered with each status; every 429 must carry Retry-After.
func burst(t *testing.T, e *env, n int, addr, email string) map[int]int {
	t.Helper()
	var mu sync.Mutex
	codes := map[int]int{}
	var noRetry atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := loginFrom(e, addr, email, "wrong-password")
			if r.code == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
				noRetry.Add(1)
			}
			mu.Lock()
			codes[r.code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if noRetry.Load() > 0 {
		t.Errorf("%d answers 429 had no Retry-After", noRetry.Load())
	}
	return codes
}

func TestLoginBurstFromOneAddressIsBounded(t *testing.T) {
	e := newEnv(t)
	e.user("ann")
	// 200 concurrent guesses with real bcrypt: the limit of one account
	// from one address lets 5 be checked, the others are refused at once.
	// (A check waits as long as it takes for a hashing slot.)
	web.SetPasswordCheck(e.srv, 2, time.Minute, web.CheckPasswordOrBurn)
	codes := burst(t, e, 200, "10.0.0.1", "ann@example.com")
	if codes[http.StatusUnauthorized] != 5 || codes[http.StatusTooManyRequests] != 195 {
		t.Fatalf("answers to 200 concurrent wrong logins = %v, want 5 × 401 and 195 × 429", codes)
	}
}

func TestLoginBurstCountsPasswordChecks(t *testing.T) {
	e := newEnv(t)
	e.user("ann")
	checks := fastChecks(e)
	codes := burst(t, e, 200, "10.0.0.1", "ann@example.com")
	if n := checks.Load(); n != 5 {
		t.Fatalf("200 concurrent wrong logins checked %d passwords, want 5 (answers %v)", n, codes)
	}
	// An unknown account costs a check too, and is limited the same way.
	checks.Store(0)
	burst(t, e, 50, "10.0.0.2", "nobody@example.com")
	if n := checks.Load(); n != 5 {
		t.Fatalf("50 concurrent logins of an unknown account checked %d passwords, want 5", n)
	}
}

func TestLoginFromAnotherAddressWorksDuringAGuessingBurst(t *testing.T) {
	e := newEnv(t)
	e.user("ann")
	web.SetPasswordCheck(e.srv, 2, time.Minute, web.CheckPasswordOrBurn)
	done := make(chan map[int]int)
	go func() { done <- burst(t, e, 300, "10.6.6.6", "ann@example.com") }()
	// Ann logs in from her own address while the burst runs, and after it.
	if r := loginFrom(e, "10.1.1.1", "ann@example.com", testPassword); r.code != http.StatusOK {
		t.Fatalf("login from another address during the burst = %d %s", r.code, r.body)
	}
	codes := <-done
	if codes[http.StatusUnauthorized] > 5 {
		t.Fatalf("the burst had %d passwords checked (answers %v), want at most 5", codes[http.StatusUnauthorized], codes)
	}
	if r := loginFrom(e, "10.1.1.1", "ann@example.com", testPassword); r.code != http.StatusOK {
		t.Fatalf("login from another address after the burst = %d %s", r.code, r.body)
	}
	// The guessing address stays refused, even with the right password.
	r := loginFrom(e, "10.6.6.6", "ann@example.com", testPassword)
	if r.code != http.StatusTooManyRequests {
		t.Fatalf("login from the guessing address = %d %s, want 429", r.code, r.body)
	}
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 600 {
		t.Fatalf("Retry-After = %q, want 1 to 600 seconds", r.header.Get("Retry-After"))
	}
	// After the window it may try again.
	e.clock.Advance(time.Duration(secs) * time.Second)
	if r := loginFrom(e, "10.6.6.6", "ann@example.com", testPassword); r.code != http.StatusOK {
		t.Fatalf("login after Retry-After = %d %s", r.code, r.body)
	}
}

func TestLoginLimitPerAccountOverAllAddresses(t *testing.T) {
	e := newEnv(t)
	e.user("ann")
	e.user("bob")
	fastChecks(e)
	// Guessers spread over many addresses, one guess each.
	for i := range 50 {
		if r := loginFrom(e, "10.2.0."+strconv.Itoa(i+1), "ann@example.com", "wrong-password"); r.code != http.StatusUnauthorized {
			t.Fatalf("guess %d = %d %s", i+1, r.code, r.body)
		}
	}
	r := loginFrom(e, "10.3.0.1", "ann@example.com", testPassword)
	if r.code != http.StatusTooManyRequests {
		t.Fatalf("login after 50 failures from 50 addresses = %d %s, want 429", r.code, r.body)
	}
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 3600 {
		t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	if r := loginFrom(e, "10.3.0.1", "bob@example.com", testPassword); r.code != http.StatusOK {
		t.Fatalf("another account = %d %s", r.code, r.body)
	}
	e.clock.Advance(time.Duration(secs) * time.Second)
	if r := loginFrom(e, "10.3.0.1", "ann@example.com", testPassword); r.code != http.StatusOK {
		t.Fatalf("login after Retry-After = %d %s", r.code, r.body)
	}
}

func TestLoginLimitPerAddressOverAllAccounts(t *testing.T) {
	e := newEnv(t)
	e.user("ann")
	fastChecks(e)
	for i := range 20 {
		if r := loginFrom(e, "10.1.1.1", "user"+strconv.Itoa(i)+"@example.com", "wrong-password"); r.code != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d %s", i+1, r.code, r.body)
		}
	}
	r := loginFrom(e, "10.1.1.1", "ann@example.com", testPassword)
	if r.code != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("attempt over the address limit = %d %s (Retry-After %q)", r.code, r.body, r.header.Get("Retry-After"))
	}
	if r := loginFrom(e, "10.2.2.2", "ann@example.com", testPassword); r.code != http.StatusOK {
		t.Fatalf("login from another address = %d %s", r.code, r.body)
	}
}

func TestSuccessfulLoginsDoNotUseUpTheLimits(t *testing.T) {
	e := newEnv(t)
	e.user("ann")
	checks := fastChecks(e)
	// An office behind one address logs in many times a minute.
	for i := range 60 {
		if r := loginFrom(e, "10.4.4.4", "ann@example.com", testPassword); r.code != http.StatusOK {
			t.Fatalf("login %d = %d %s", i+1, r.code, r.body)
		}
	}
	if checks.Load() != 60 {
		t.Fatalf("%d checks for 60 logins", checks.Load())
	}
}

func TestLoginRefusalsAreAuditedOncePerWindow(t *testing.T) {
	e := newEnv(t)
	e.user("ann")
	fastChecks(e)
	count := func(event string) int {
		n := 0
		for _, ev := range e.auditEvents() {
			if ev.Event == event {
				n++
			}
		}
		return n
	}
	for range 40 {
		loginFrom(e, "10.5.5.5", "ann@example.com", "wrong-password")
	}
	if f, l := count("Login Failed"), count("Login Rate Limited"); f != 5 || l != 1 {
		t.Fatalf("40 wrong logins left %d Login Failed and %d Login Rate Limited events, want 5 and 1", f, l)
	}
	var ev = e.auditEvents()[0]
	if ev.Event != "Login Rate Limited" || ev.Properties["limit"] != "account_address" || ev.Properties["until"] == "" || ev.Properties["ip"] != "10.5.5.5" {
		t.Fatalf("rate limit event = %+v", ev)
	}
	// The next window's refusals are recorded again, once.
	e.clock.Advance(11 * time.Minute)
	for range 40 {
		loginFrom(e, "10.5.5.5", "ann@example.com", "wrong-password")
	}
	if l := count("Login Rate Limited"); l != 2 {
		t.Fatalf("two windows of refusals left %d Login Rate Limited events, want 2", l)
	}
}

func TestLoginRefusedWhilePasswordHashingIsBusy(t *testing.T) {
	e := newEnv(t)
	e.user("ann")
	e.user("bob")
	entered, release := make(chan struct{}), make(chan struct{})
	var checks atomic.Int64
	web.SetPasswordCheck(e.srv, 2, 20*time.Millisecond, func(hash, pw string) bool {
		checks.Add(1)
		entered <- struct{}{}
		<-release
		return web.CheckPasswordOrBurn(hash, pw)
	})
	results := make(chan int, 2)
	for i, who := range []string{"ann", "bob"} {
		go func() {
			results <- loginFrom(e, "10.7.0."+strconv.Itoa(i+1), who+"@example.com", testPassword).code
		}()
	}
	<-entered
	<-entered
	// Both slots are taken: a third login waits briefly and is refused.
	r := loginFrom(e, "10.7.0.9", "ann@example.com", testPassword)
	if r.code != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" {
		t.Fatalf("login while hashing is busy = %d %s (Retry-After %q), want 429 after 1 s", r.code, r.body, r.header.Get("Retry-After"))
	}
	close(release)
	for range 2 {
		if code := <-results; code != http.StatusOK {
			t.Fatalf("held login = %d", code)
		}
	}
	if n := checks.Load(); n != 2 {
		t.Fatalf("%d passwords checked, want 2", n)
	}
	// The refused attempt did not count as a failure.
	go func() {
		for range entered {
		}
	}()
	defer close(entered)
	for i := range 5 {
		if r := loginFrom(e, "10.7.0.9", "ann@example.com", testPassword); r.code != http.StatusOK {
			t.Fatalf("login %d after the busy spell = %d %s", i+1, r.code, r.body)
		}
	}
}
