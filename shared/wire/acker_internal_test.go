package wire

import (
	"testing"
	"time"
)

func TestAckerIntervalIsKeptWithinBounds(t *testing.T) {
	for _, tt := range []struct {
		ms   int64
		want time.Duration
	}{
		{0, AckInterval},
		{-7, AckInterval},
		{1, AckInterval},
		{2500, 2500 * time.Millisecond},
		{MaxAckInterval.Milliseconds(), MaxAckInterval},
		{1 << 62, MaxAckInterval},
	} {
		a := NewAcker(func(int64) error { return nil }, func(error) {})
		a.SetInterval(tt.ms)
		if a.interval != tt.want {
			t.Errorf("SetInterval(%d): interval %s, want %s", tt.ms, a.interval, tt.want)
		}
	}
}

// TestAckerKeepsTheIntervalItWasAskedFor checks that, after the first ack,
// which goes out at once, the next waits the interval the origin asked for,
// and carries what was applied meanwhile.
func TestAckerKeepsTheIntervalItWasAskedFor(t *testing.T) {
	type ack struct {
		rev int64
		at  time.Time
	}
	acks := make(chan ack, 10)
	a := NewAcker(func(rev int64) error { acks <- ack{rev, time.Now()}; return nil }, func(err error) { t.Error(err) })
	defer a.Stop()
	const interval = 1500 * time.Millisecond
	a.SetInterval(interval.Milliseconds())
	if err := a.Ack(1); err != nil {
		t.Fatal(err)
	}
	first := <-acks
	for rev := int64(2); rev <= 4; rev++ {
		if err := a.Ack(rev); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case next := <-acks:
		if next.rev != 4 || next.at.Sub(first.at) < interval {
			t.Fatalf("the second ack carries revision %d %s after the first; want 4 after at least %s", next.rev, next.at.Sub(first.at), interval)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no second ack within 10s")
	}
	select {
	case extra := <-acks:
		t.Fatalf("an ack of revision %d with nothing new applied", extra.rev)
	default:
	}
}
