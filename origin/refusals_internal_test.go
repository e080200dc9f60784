package origin

import (
	"fmt"
	"testing"
	"time"
)

func TestRefusalLogTableIsBounded(t *testing.T) {
	var l refusalLog
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	logged := 0
	for i := range 5000 {
		for range 3 {
			if _, ok := l.admit(fmt.Sprint("10.0.", i/256, ".", i%256), now); ok {
				logged++
			}
		}
	}
	if len(l.sources) > maxRefusalSources+1 {
		t.Fatalf("%d sources in the table, want at most %d", len(l.sources), maxRefusalSources+1)
	}
	if logged != maxRefusalSources+1 {
		t.Fatalf("%d lines for 5,000 sources within a second, want %d (one per source in the table and one for the others)", logged, maxRefusalSources+1)
	}
	// A minute later the quiet sources are dropped to make room, and what
	// they had not logged is counted.
	later := now.Add(refusalEvery)
	if n, ok := l.admit("192.0.2.1", later); !ok || n != 0 {
		t.Fatalf("a new source a minute later: %d, %t", n, ok)
	}
	if got, want := l.takeDropped(), maxRefusalSources*2+(5000-maxRefusalSources)*3-1; got != want {
		t.Fatalf("dropped sources had %d refusals not logged, want %d", got, want)
	}
	if len(l.sources) != 1 {
		t.Fatalf("%d sources after the sweep, want 1", len(l.sources))
	}
}
