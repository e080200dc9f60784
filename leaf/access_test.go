package leaf_test

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/storage/memory"
)

// accessBed is a leaf's Access over an agent bed with one linked space,
// "dev" (id s1) of ann, and a space of another location.
func accessBed(t *testing.T, noProxy bool) (*leaf.Access, *auditLog) {
	t.Helper()
	b := newAgentBed(t)
	tok := b.space("s1")
	b.run("s1", tok)
	waitFor(t, "the link", func() bool { return b.agents.Status("s1").Connected })
	ctx := context.Background()
	st := memory.New()
	for _, r := range []shared.Record{
		&shared.Template{Meta: shared.Meta{ID: "t1"}, Name: "web", Kind: shared.TemplateManual, HTTPPorts: []shared.HTTPPort{{Port: 8080, Name: "app"}}},
		&shared.Space{Meta: shared.Meta{ID: "s1"}, Name: "dev", UserID: "ann", Location: "here", TemplateID: "t1"},
		&shared.Space{Meta: shared.Meta{ID: "s2"}, Name: "far", UserID: "ann", Location: "there"},
		&shared.User{Meta: shared.Meta{ID: "ann"}, Username: "ann", Email: "ann@example.com", Active: true, Roles: []string{shared.UserRoleID}},
	} {
		if err := st.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	audit := &auditLog{}
	streams := leaf.NewAgentStreams(leaf.StreamsOptions{Location: "here", Store: st, Agents: b.agents, Audit: audit})
	return leaf.NewAccess(leaf.AccessOptions{Location: "here", Store: st, Agents: b.agents, Streams: streams, Audit: audit, NoProxy: noProxy}), audit
}

func as(id string, perms ...shared.Permission) context.Context {
	u := &shared.User{Meta: shared.Meta{ID: id}, Username: id}
	return shared.NewContextWithActor(context.Background(), shared.NewActor(u, shared.PermissionsOf(perms)))
}

var caller = leaf.Caller{IP: "192.0.2.7", UserAgent: "knot-test", ForwardedFor: "198.51.100.1"}

// Only the owner of a space or a user with Manage Spaces may use a way
// into it; anyone else is told it does not exist, and the refusal is
// audited with who and from where.
func TestAccessIsTheOwnersOrAManagersAndRefusalsAreAudited(t *testing.T) {
	a, audit := accessBed(t, false)
	for _, ctx := range []context.Context{as("ann", shared.PermUseSpaces), as("root", shared.PermManageSpaces)} {
		if sp, err := a.Enter(ctx, caller, "s1", leaf.Way{Kind: "terminal"}); err != nil || sp.Name != "dev" {
			t.Fatalf("Enter: %v, %v", sp, err)
		}
	}
	if _, err := a.Enter(as("bob", shared.PermUseSpaces), caller, "s1", leaf.Way{Kind: "terminal"}); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("another user's terminal: %v, want ENOTFOUND", err)
	}
	ev := audit.find("terminal refused", "bob")
	if ev == nil || ev.Details != "terminal of space dev refused: not its owner" || ev.Properties["ip"] != caller.IP ||
		ev.Properties["user_agent"] != caller.UserAgent || ev.Properties["x_forwarded_for"] != caller.ForwardedFor || ev.Properties["user_id"] != "bob" {
		t.Fatalf("the refusal is audited as %+v", ev)
	}
	if _, err := a.Forward(as("bob", shared.PermUseSpaces), caller, "s1", leaf.Way{Kind: "port forward", Port: 80}); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("another user's port: %v, want ENOTFOUND", err)
	}
	if ev := audit.find("port forward refused", "bob"); ev == nil || ev.Properties["port"] != "80" || ev.Details != "port forward of space dev port 80 refused: not its owner" {
		t.Fatalf("the port refusal is audited as %+v", ev)
	}
	// A port of another location is relayed; without a way there, the
	// dial says so.
	far, err := a.Forward(as("ann", shared.PermUseSpaces), caller, "s2", leaf.Way{Kind: "port forward", Port: 80})
	if err != nil {
		t.Fatalf("a port of another location: %v", err)
	}
	if _, _, err := a.DialPort(as("ann", shared.PermUseSpaces), caller, far, leaf.Way{Kind: "port forward", Port: 80}); shared.ErrorCode(err) != shared.EUNAVAILABLE || !strings.Contains(err.Error(), "location there") {
		t.Fatalf("a port of another location without a way there: %v, want EUNAVAILABLE naming it", err)
	}
	if _, err := a.Enter(as("ann", shared.PermUseSpaces), caller, "nope", leaf.Way{Kind: "terminal"}); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("a space that is not there: %v", err)
	}
	off, _ := accessBed(t, true)
	if _, err := off.Forward(as("ann", shared.PermUseSpaces), caller, "s1", leaf.Way{Kind: "port forward", Port: 80}); shared.ErrorCode(err) != shared.EFORBIDDEN {
		t.Fatalf("a port with server.disable_proxy: %v, want EFORBIDDEN", err)
	}
}

// Every use is audited when it ends: how long, why, and for a port or
// another stream the bytes each way; a terminal also when it opens.
func TestAccessVisitsAreAudited(t *testing.T) {
	a, audit := accessBed(t, false)
	ctx := as("ann", shared.PermUseSpaces)
	port, stop := echoServer(t)
	defer stop()
	way := leaf.Way{Kind: "port forward", Port: port}
	sp, err := a.Forward(ctx, caller, "s1", way)
	if err != nil {
		t.Fatal(err)
	}
	pc, v, err := a.DialPort(ctx, caller, sp, way)
	if err != nil {
		t.Fatal(err)
	}
	v.Begin()
	pc.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(pc, "hello")
	pc.CloseWrite()
	if got, err := io.ReadAll(pc); err != nil || string(got) != "hello" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	pc.Close()
	v.End("the connection ended")
	ev := audit.find("port forward closed", "ann")
	want := "port forward to port " + strconv.Itoa(port) + " of space dev closed: the connection ended"
	if ev == nil || ev.Details != want || ev.Properties["bytes_to_space"] != "5" || ev.Properties["bytes_from_space"] != "5" ||
		ev.Properties["reason"] != "the connection ended" || ev.Properties["duration"] == "" || ev.Properties["ip"] != caller.IP {
		t.Fatalf("the close is audited as %+v, want %q with the bytes", ev, want)
	}

	ts, v, err := a.OpenTerminal(ctx, caller, sp, agentwire.Terminal{Command: []string{"sh", "-c", "exit 3"}, NoPTY: true})
	if err != nil {
		t.Fatal(err)
	}
	v.Begin()
	ts.Close()
	v.End("the viewer closed it")
	if ev := audit.find("terminal opened", "ann"); ev == nil || ev.Properties["session"] != ts.ID || ev.Properties["command"] != "sh -c exit 3" {
		t.Fatalf("the open is audited as %+v", ev)
	}
	if ev := audit.find("terminal closed", "ann"); ev == nil || ev.Details != "terminal of space dev closed: the viewer closed it" || ev.Properties["session"] != ts.ID {
		t.Fatalf("the close is audited as %+v", ev)
	}

	// Any other kind of stream, as SSH is: opened and closed with the bytes.
	st, v, err := a.OpenStream(ctx, caller, sp, leaf.Way{Kind: "ssh"}, agentwire.Open{Type: agentwire.OpenPort, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	var o agentwire.Opened
	if err := agentwire.ReadJSON(st, &o); err != nil || o.Error != "" {
		t.Fatalf("the agent's answer: %+v, %v", o, err)
	}
	st.SetDeadline(time.Now().Add(10 * time.Second))
	v.Begin()
	io.WriteString(st, "abc")
	buf := make([]byte, 3)
	if _, err := io.ReadFull(st, buf); err != nil || string(buf) != "abc" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	st.Close()
	v.End("done")
	if ev := audit.find("ssh opened", "ann"); ev == nil || ev.Details != "ssh of space dev opened" {
		t.Fatalf("the open is audited as %+v", ev)
	}
	ev = audit.find("ssh closed", "ann")
	if ev == nil || ev.Properties["bytes_to_space"] != "3" || ev.Properties["bytes_from_space"] != "3" || ev.Properties["reason"] != "done" {
		t.Fatalf("the close is audited as %+v", ev)
	}
}

// A web app host names a space by its owner and name, at this location or
// else another, and a port its template serves; anything else is not
// found, saying why.
func TestAccessFindsWebAppsByTheirHost(t *testing.T) {
	a, audit := accessBed(t, false)
	ann := as("ann", shared.PermUseSpaces)
	sp, port, err := a.AppSpace(ann, caller, "ANN--Dev--8080")
	if err != nil || sp.ID != "s1" || port != 8080 {
		t.Fatalf("AppSpace: %v, %d, %v; want s1 on 8080", sp, port, err)
	}
	for label, want := range map[string]string{
		"ann--dev--9090":  "does not list it in http_ports",
		"bob--dev--8080":  `space "dev" of user "bob" not found`,
		"ann--far--8080":  `port 8080 of space "far" is not a web app: its template is gone`, // found at location there
		"ann--none--8080": `space "none" of user "ann" not found`,
		"ann--dev--0":     "its port must be from 1 to 65535",
		"ann-dev--8080":   "USER--SPACE--PORT",
		"ann--dev--08080": "its port must be from 1 to 65535",
	} {
		if _, _, err := a.AppSpace(ann, caller, label); shared.ErrorCode(err) != shared.ENOTFOUND || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ENOTFOUND saying %q", label, err, want)
		}
	}
	if _, _, err := a.AppSpace(as("bob", shared.PermUseSpaces), caller, "ann--dev--8080"); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("another user's app: %v, want ENOTFOUND", err)
	}
	if ev := audit.find("web app refused", "bob"); ev == nil || ev.Properties["port"] != "8080" {
		t.Fatalf("the refusal is audited as %+v", ev)
	}
}
