package shared

import (
	"context"
	"time"
)

// Every calls f every d until ctx ends, and first at once when now is set.
// A call that takes longer than d delays the next; none are made up.
func Every(ctx context.Context, d time.Duration, now bool, f func()) {
	if now {
		f()
	}
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f()
	}
}
