package web

import (
	"strconv"
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
