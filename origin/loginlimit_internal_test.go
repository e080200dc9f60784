package origin

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestFailLimiterWindow(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newFailLimiter(3, time.Minute, func() time.Time { return now })
	for i := range 3 {
		if blocked, _ := l.blocked("k"); blocked {
			t.Fatalf("blocked after %d failures", i)
		}
		l.fail("k")
	}
	blocked, wait := l.blocked("k")
	if !blocked || wait != time.Minute {
		t.Fatalf("after 3 failures: blocked %v, wait %v", blocked, wait)
	}
	now = now.Add(40 * time.Second)
	if _, wait := l.blocked("k"); wait != 20*time.Second {
		t.Fatalf("wait after 40 s = %v", wait)
	}
	now = now.Add(20 * time.Second)
	if blocked, _ := l.blocked("k"); blocked {
		t.Fatal("still blocked after the window")
	}
	l.fail("k")
	l.reset("k")
	if l.size() != 0 {
		t.Fatal("reset kept the key")
	}
}

func TestFailLimiterMemoryIsBounded(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newFailLimiter(5, time.Minute, func() time.Time { return now })
	for i := range 3 * limiterCap {
		l.fail("key" + strconv.Itoa(i))
		if l.size() > limiterCap {
			t.Fatalf("%d keys tracked after %d failures, cap %d", l.size(), i+1, limiterCap)
		}
	}
	// Expired windows are dropped before live ones.
	now = now.Add(2 * time.Minute)
	for i := range limiterCap / 2 {
		l.fail("new" + strconv.Itoa(i))
	}
	for i := range limiterCap / 2 {
		if l.keys["new"+strconv.Itoa(i)] == nil {
			t.Fatalf("live key new%d was dropped while expired ones were kept", i)
		}
	}
	if l.size() > limiterCap {
		t.Fatalf("%d keys tracked", l.size())
	}
}

func TestLoginReservationsAreAtomic(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLoginLimiter(func() time.Time { return now })
	var mu sync.Mutex
	granted, firsts := 0, 0
	var wg sync.WaitGroup
	for range 500 {
		wg.Go(func() {
			res, refusal := l.reserve("ann@example.com", "10.0.0.1")
			mu.Lock()
			defer mu.Unlock()
			if res != nil {
				granted++
			} else if refusal.first {
				firsts++
			}
		})
	}
	wg.Wait()
	if granted != loginFailsPerPair || firsts != 1 {
		t.Fatalf("500 concurrent reservations: %d granted, %d first refusals; want %d and 1", granted, firsts, loginFailsPerPair)
	}
	// A cancelled reservation is given back; a success clears the pair.
	l2 := newLoginLimiter(func() time.Time { return now })
	for range 10 {
		res, _ := l2.reserve("bob@example.com", "10.0.0.2")
		res.cancel()
	}
	res, refusal := l2.reserve("bob@example.com", "10.0.0.2")
	if refusal != nil {
		t.Fatal("cancelled reservations used up the limit")
	}
	res.succeed()
	if n := l2.pairs.size() + l2.accounts.keys["bob@example.com"].count + l2.addresses.keys["10.0.0.2"].count; n != 0 {
		t.Fatalf("a success left %d counted failures", n)
	}
}
