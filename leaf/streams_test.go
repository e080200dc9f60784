package leaf_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage/memory"
)

// auditLog records audit events in memory.
type auditLog struct {
	mu  sync.Mutex
	evs []shared.AuditEvent
}

func (a *auditLog) List(context.Context, shared.ListOptions) (shared.Page[shared.AuditEvent], error) {
	return shared.Page[shared.AuditEvent]{}, nil
}
func (a *auditLog) Prune(context.Context, time.Time) (int, error) { return 0, nil }
func (a *auditLog) Record(_ context.Context, ev *shared.AuditEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.evs = append(a.evs, *ev)
	return nil
}

func (a *auditLog) find(event, actor string) *shared.AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.evs {
		if a.evs[i].Event == event && a.evs[i].Actor == actor {
			return &a.evs[i]
		}
	}
	return nil
}

// relayed serves h on a relayed stream and returns the reply, and the
// stream when it was accepted.
func relayed(t *testing.T, s *leaf.AgentStreams, h *wire.RelayOpen) (net.Conn, error) {
	t.Helper()
	origin, here := net.Pipe()
	done := make(chan struct{})
	go func() { s.ServeRelayed(context.Background(), h, here); close(done) }()
	t.Cleanup(func() { origin.Close(); <-done })
	origin.SetDeadline(time.Now().Add(10 * time.Second))
	if err := wire.ReadRelayReply(origin); err != nil {
		return nil, err
	}
	return origin, nil
}

// A leaf serves a relayed stream only for a space of its own and a user of
// its replica who owns it or holds Manage Spaces, whatever the origin
// says; it audits the terminal and the refusal with the way it came.
func TestRelayedTerminalIsCheckedAndAuditedAtTheSpacesLeaf(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
	b := newAgentBed(t)
	tok := b.space("sp1")
	b.run("sp1", tok)
	waitFor(t, "the agent links", func() bool { return b.agents.Status("sp1").Connected })

	ctx := context.Background()
	st := memory.New()
	for _, r := range []shared.Record{
		&shared.Space{Meta: shared.Meta{ID: "sp1"}, Name: "dev", UserID: "ann", Location: "here"},
		&shared.Space{Meta: shared.Meta{ID: "sp2"}, Name: "far", UserID: "ann", Location: "there"},
		&shared.User{Meta: shared.Meta{ID: "ann"}, Username: "ann", Email: "ann@example.com", Active: true, Roles: []string{shared.UserRoleID}},
		&shared.User{Meta: shared.Meta{ID: "bob"}, Username: "bob", Email: "bob@example.com", Active: true, Roles: []string{shared.UserRoleID}},
		&shared.User{Meta: shared.Meta{ID: "root"}, Username: "root", Email: "root@example.com", Active: true, Roles: []string{shared.AdminRoleID}},
		&shared.User{Meta: shared.Meta{ID: "gone"}, Username: "gone", Email: "gone@example.com", Active: false, Roles: []string{shared.AdminRoleID}},
	} {
		if err := st.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	audit := &auditLog{}
	s := leaf.NewAgentStreams(leaf.StreamsOptions{Location: "here", Store: st, Agents: b.agents, Audit: audit})
	term := func(space, user string) *wire.RelayOpen {
		return &wire.RelayOpen{SpaceID: space, UserID: user, From: "192.0.2.7", Via: "origin hq",
			Open: agentwire.Open{Type: agentwire.OpenTerminal, Terminal: &agentwire.Terminal{Command: []string{"sh", "-c", "echo relayed-$((6*7)); exit 9"}, NoPTY: true}}}
	}

	for _, c := range []struct {
		name        string
		h           *wire.RelayOpen
		code, actor string
	}{
		{"another user's space", term("sp1", "bob"), shared.ENOTFOUND, "bob"},
		{"an inactive user", term("sp1", "gone"), shared.EFORBIDDEN, ""},
		{"a user this leaf does not know", term("sp1", "nobody"), shared.EFORBIDDEN, ""},
		{"a space of another location", term("sp2", "ann"), shared.ENOTFOUND, ""},
		{"a space this leaf does not know", term("sp9", "ann"), shared.ENOTFOUND, ""},
	} {
		if _, err := relayed(t, s, c.h); shared.ErrorCode(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
		if c.actor != "" {
			if ev := audit.find("terminal refused", c.actor); ev == nil || ev.Properties["via"] != "origin hq" || ev.Properties["ip"] != "192.0.2.7" {
				t.Errorf("%s: the refusal is audited as %+v, want with via and ip", c.name, ev)
			}
		}
	}

	for _, user := range []string{"ann", "root"} {
		conn, err := relayed(t, s, term("sp1", user))
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		var o agentwire.Opened
		if err := agentwire.ReadJSON(conn, &o); err != nil || o.Error != "" {
			t.Fatalf("%s: the agent's answer %+v, %v", user, o, err)
		}
		var out strings.Builder
		code := -1
		for code < 0 {
			kind, p, err := agentwire.ReadFrame(conn)
			if err != nil {
				t.Fatalf("%s: %v after %q", user, err, out.String())
			}
			var c agentwire.Control
			switch {
			case kind == agentwire.KindData:
				out.Write(p)
			case agentwire.DecodeJSON(p, &c) == nil && c.Type == agentwire.CtlExit:
				code = c.Code
			}
		}
		if code != 9 || !strings.Contains(out.String(), "relayed-42") {
			t.Fatalf("%s: exit %d, output %q; want 9 and relayed-42", user, code, out.String())
		}
		conn.Close()
		waitFor(t, "the close is audited", func() bool {
			ev := audit.find("terminal closed", user)
			return ev != nil && ev.Properties["via"] == "origin hq" && strings.Contains(ev.Properties["reason"], "code 9")
		})
	}
}
