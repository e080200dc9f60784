package leaf_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
)

// snapshotV2 is snapshot with a welcome of protocol 2.
func (c *conn) snapshotV2() {
	w := welcome(wire.ModeSnapshot)
	w.Protocol = 2
	c.send(w)
	c.send(&wire.Snapshot{Revision: 5, Records: []wire.Change{userChange("ann", "ann", 4)}})
	c.send(&wire.SnapshotEnd{Revision: 5, Count: 1})
}

// next reads frames until one that is not an ack.
func (c *conn) next() wire.Frame {
	for {
		f, err := c.read()
		if err != nil {
			c.t.Errorf("read: %v", err)
			return nil
		}
		if _, ok := f.(*wire.Ack); !ok {
			return f
		}
	}
}

func appendAudit(t *testing.T, st storage.Store, event string) {
	t.Helper()
	if err := st.AppendAudit(context.Background(), &shared.AuditEvent{At: time.Now().UTC(), Actor: "ann", ActorType: "user", Event: event, Location: "eu"}); err != nil {
		t.Fatal(err)
	}
}

func TestAuditEventsGoToTheOriginFromWhereItHoldsThem(t *testing.T) {
	st := memory.New()
	for _, e := range []string{"one", "two", "three"} {
		appendAudit(t, st, e)
	}
	head, err := st.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan *wire.AuditReport, 4)
	f := newFakeOrigin(t, func(n int, c *conn) {
		if n > 1 {
			c.idle()
			return
		}
		c.snapshotV2()
		for i := 0; i < 3; i++ {
			r, ok := c.next().(*wire.AuditReport)
			if !ok {
				t.Errorf("frame %d is not an audit report", i)
				return
			}
			reports <- r
			upto := int64(1) // the origin holds the first event already
			if len(r.Events) > 0 {
				upto = r.Events[len(r.Events)-1].ID
			}
			c.send(&wire.AuditAck{Store: r.Store, Upto: upto})
		}
		c.idle()
	})
	u, _, _ := runLeaf(t, st, leaf.Options{OriginURL: f.srv.URL})
	probe := <-reports
	if probe.Store != head.Epoch || len(probe.Events) != 0 {
		t.Fatalf("first report %+v, want an empty one of store %s", probe, head.Epoch)
	}
	r := <-reports
	if len(r.Events) != 2 || r.Events[0].Event != "two" || r.Events[1].Event != "three" || r.Events[0].Actor != "ann" {
		t.Fatalf("second report %+v, want the events after the first", r)
	}
	appendAudit(t, st, "four")
	u.Notify()
	r = <-reports
	if len(r.Events) != 1 || r.Events[0].Event != "four" {
		t.Fatalf("third report %+v, want the new event", r)
	}
}

func TestProtocol1OriginGetsNoAuditReports(t *testing.T) {
	st := memory.New()
	appendAudit(t, st, "one")
	frames := make(chan string, 8)
	f := newFakeOrigin(t, func(n int, c *conn) {
		if n > 1 {
			c.idle()
			return
		}
		c.snapshot()
		c.send(&wire.Command{ID: "c1", Action: wire.ActionStop, SpaceID: "s1"})
		for {
			fr := c.next()
			if fr == nil {
				return
			}
			frames <- fr.FrameType()
			if fr.FrameType() == wire.TypeCommandResult {
				break
			}
		}
		c.idle()
	})
	runLeaf(t, st, leaf.Options{OriginURL: f.srv.URL, Spaces: &controller{}})
	for ft := range frames {
		if ft == wire.TypeAuditReport {
			t.Fatal("the leaf sent an audit report to a protocol 1 origin")
		}
		if ft == wire.TypeCommandResult {
			return
		}
	}
}

// creator is a SpaceCreator that records what it created.
type creator struct {
	controller
	mu      sync.Mutex
	created []*shared.Space
}

func (c *creator) Create(ctx context.Context, sp *shared.Space) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.created = append(c.created, sp)
	return nil
}

func TestCreateCommands(t *testing.T) {
	space, _ := json.Marshal(&shared.Space{Meta: shared.Meta{ID: "s9"}, Name: "placed", Location: "eu"})
	for _, tt := range []struct {
		name   string
		spaces leaf.SpaceController
		want   string // the result's code
	}{
		{"ACreatorCreatesTheSpace", &creator{}, ""},
		{"AControllerThatCannotCreateSaysSo", &controller{}, shared.EUNAVAILABLE},
	} {
		t.Run(tt.name, func(t *testing.T) {
			results := make(chan *wire.CommandResult, 1)
			f := newFakeOrigin(t, func(n int, c *conn) {
				if n > 1 {
					c.idle()
					return
				}
				c.snapshotV2()
				c.send(&wire.Command{ID: "c1", Action: wire.ActionCreate, SpaceID: "s9", Space: space})
				for {
					fr := c.next()
					if fr == nil {
						return
					}
					if r, ok := fr.(*wire.CommandResult); ok {
						results <- r
						break
					}
					if r, ok := fr.(*wire.AuditReport); ok {
						c.send(&wire.AuditAck{Store: r.Store})
					}
				}
				c.idle()
			})
			runLeaf(t, memory.New(), leaf.Options{OriginURL: f.srv.URL, Spaces: tt.spaces})
			r := <-results
			if r.Code != tt.want {
				t.Fatalf("result %+v, want code %q", r, tt.want)
			}
			if cr, ok := tt.spaces.(*creator); ok {
				cr.mu.Lock()
				defer cr.mu.Unlock()
				if len(cr.created) != 1 || cr.created[0].ID != "s9" || cr.created[0].Name != "placed" {
					t.Fatalf("created %s", fmt.Sprint(cr.created))
				}
			}
		})
	}
	t.Run("OnProtocol1ItClosesTheLink", func(t *testing.T) {
		closed := make(chan string, 1)
		f := newFakeOrigin(t, func(n int, c *conn) {
			if n > 1 {
				c.idle()
				return
			}
			c.snapshot()
			c.send(&wire.Command{ID: "c1", Action: wire.ActionCreate, SpaceID: "s9", Space: space})
			closed <- c.closeOf().Reason
		})
		cr := &creator{}
		runLeaf(t, memory.New(), leaf.Options{OriginURL: f.srv.URL, Spaces: cr})
		if reason := <-closed; reason == "" {
			t.Fatal("the link closed without a reason")
		}
		cr.mu.Lock()
		defer cr.mu.Unlock()
		if len(cr.created) != 0 {
			t.Fatal("a protocol 1 link created a space")
		}
	})
}
