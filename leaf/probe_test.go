package leaf_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/memory"
)

// An origin that hangs keeps its websocket open. When a request to it gets
// no answer, the web layer calls Probe: the leaf pings the origin and drops
// a link whose origin does not answer, long before the idle timeout, so
// that its status and the next requests know. An origin that answers keeps
// its link.
func TestProbeDropsTheLinkOfAnOriginThatDoesNotAnswer(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := newFakeOrigin(t, func(n int, c *conn) {
		c.snapshot()
		if n == 1 {
			<-release // reads nothing more, so answers no ping
			return
		}
		c.idle()
	})
	const probeTimeout = 100 * time.Millisecond
	u, _, _ := runLeaf(t, memory.New(), leaf.Options{
		OriginURL: f.srv.URL, ProbeTimeout: probeTimeout, IdleTimeout: time.Hour,
		MinBackoff: time.Second, MaxBackoff: time.Second,
	})
	connected := func(dials int32) func() string {
		return func() string {
			if st := u.Status(); !st.Connected || st.Applied != 5 || f.dials.Load() != dials {
				return fmt.Sprintf("link %d of %d not up and current (%s)", dials, f.dials.Load(), st.Reason)
			}
			return ""
		}
	}
	eventually(t, 10*time.Second, connected(1))

	u.Probe()
	eventually(t, 10*time.Second, func() string {
		st := u.Status()
		if st.Connected {
			return "the link to the origin that answers nothing is still up"
		}
		if !strings.Contains(st.Reason, "did not answer a ping within 100ms") {
			return "the link is down for another reason: " + st.Reason
		}
		return ""
	})

	eventually(t, 10*time.Second, connected(2))
	u.Probe()
	// Nothing to wait for: the link must stay up while the ping is answered,
	// so watch it for several times the probe's timeout.
	for end := time.Now().Add(5 * probeTimeout); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if msg := connected(2)(); msg != "" {
			t.Fatalf("after a probe the origin answered: %s", msg)
		}
	}
}

// An origin that sends nothing for half the idle timeout is pinged: one
// that hangs is dropped then, for not answering, rather than at the idle
// timeout; one that answers the ping but goes on sending nothing is
// dropped at the idle timeout.
func TestSilenceFromTheOriginIsProbed(t *testing.T) {
	for _, tt := range []struct {
		name    string
		answers bool
		want    string
	}{
		{"Hung", false, "did not answer a ping within 100ms"},
		{"AnswersButSendsNothing", true, "sent nothing for 2s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release)
			f := newFakeOrigin(t, func(n int, c *conn) {
				c.snapshot()
				if n > 1 || tt.answers {
					c.idle()
					return
				}
				<-release // reads nothing more, so answers no ping
			})
			u, _, _ := runLeaf(t, memory.New(), leaf.Options{
				OriginURL: f.srv.URL, ProbeTimeout: 100 * time.Millisecond, IdleTimeout: 2 * time.Second,
				MinBackoff: time.Hour, MaxBackoff: time.Hour,
			})
			eventually(t, 10*time.Second, func() string {
				if st := u.Status(); !st.Connected || st.Applied != 5 {
					return "the link is not up and current: " + st.Reason
				}
				return ""
			})
			eventually(t, 10*time.Second, func() string {
				if u.Status().Connected {
					return "the link to the silent origin is still up"
				}
				return ""
			})
			if st := u.Status(); !strings.Contains(st.Reason, tt.want) {
				t.Fatalf("the link went down saying %q; want %q", st.Reason, tt.want)
			}
		})
	}
}

// A write that Forward sends to an origin that does not answer fails with
// EUNAVAILABLE and makes the uplink probe its link, which a hung origin
// keeps open: the link drops at once, and the next write fails at once.
func TestForwardWithoutAnAnswerProbesTheLink(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := newFakeOrigin(t, func(n int, c *conn) {
		c.snapshot()
		<-release // reads nothing more, so answers no ping
	})
	u, _, _ := runLeaf(t, memory.New(), leaf.Options{
		OriginURL: f.srv.URL, ProbeTimeout: 100 * time.Millisecond, IdleTimeout: time.Hour,
		MinBackoff: time.Hour, MaxBackoff: time.Hour,
	})
	eventually(t, 10*time.Second, func() string {
		if st := u.Status(); !st.Connected || st.Applied != 5 {
			return "the link is not up and current: " + st.Reason
		}
		return ""
	})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hung.Close)
	o := leaf.NewOrigin(leaf.OriginOptions{URL: hung.URL, Uplink: u, HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}})
	groups := leaf.NewGroupService(leaf.ServiceOptions{Store: memory.New(), Origin: o})
	ctx := shared.NewContextWithCredential(actorCtx(shared.AllPermissions()...), shared.Credential{Token: "secret"})

	wantMessage(t, groups.Create(ctx, &shared.Group{Name: "ops"}), shared.EUNAVAILABLE, "did not answer")
	eventually(t, 10*time.Second, func() string {
		if u.Status().Connected {
			return "the link to the origin that answered nothing is still up"
		}
		return ""
	})
	start := time.Now()
	wantMessage(t, groups.Create(ctx, &shared.Group{Name: "ops"}), shared.EUNAVAILABLE, "is not reachable")
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the write after the probe took %s: it must fail at once", d)
	}
}
