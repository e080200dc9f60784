package leaf_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage/memory"
)

func TestAuditEventsOverTheBoundsGoClipped(t *testing.T) {
	st := memory.New()
	long := &shared.AuditEvent{At: time.Now().UTC(), Actor: "ann", ActorType: "user", Event: "Space Start",
		Details: strings.Repeat("d", 3*wire.MaxAuditDetailsLength), Location: "eu"}
	if err := st.AppendAudit(context.Background(), long); err != nil {
		t.Fatal(err)
	}
	appendAudit(t, st, "after")
	reports := make(chan *wire.AuditReport, 2)
	f := newFakeOrigin(t, func(n int, c *conn) {
		if n > 1 {
			c.idle()
			return
		}
		c.snapshotV2()
		for i := 0; i < 2; i++ {
			r, ok := c.next().(*wire.AuditReport) // decoded as the origin does
			if !ok {
				t.Errorf("frame %d is not an audit report", i)
				return
			}
			reports <- r
			c.send(&wire.AuditAck{Store: r.Store})
		}
		c.idle()
	})
	runLeaf(t, st, leaf.Options{OriginURL: f.srv.URL})
	<-reports // the probe
	select {
	case r := <-reports:
		if len(r.Events) != 2 || len(r.Events[0].Details) != wire.MaxAuditDetailsLength || r.Events[1].Event != "after" {
			t.Fatalf("report of %d events, the first with details of %d bytes; want both, clipped", len(r.Events), len(r.Events[0].Details))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no report of the events within 10s")
	}
}
