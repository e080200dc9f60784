package leaf_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage/memory"
)

// A template's with_terminal and with_ssh decide whether terminals and SSH
// open into its spaces: off, they are refused with EFORBIDDEN saying why,
// and audited, at the server the user reached and at the space's leaf for
// a relayed stream. Ports and web apps are not theirs to refuse, and a
// template stored before they existed allows both.
func TestTemplateTurnsTerminalAndSSHOff(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	var old shared.Template // as stored before no_terminal and no_ssh
	if err := json.Unmarshal([]byte(`{"id":"t0","name":"old","kind":"manual","with_terminal":false,"with_ssh":false}`), &old); err != nil {
		t.Fatal(err)
	}
	for _, r := range []shared.Record{
		&old,
		&shared.Template{Meta: shared.Meta{ID: "t1"}, Name: "noterm", Kind: shared.TemplateManual, NoTerminal: true},
		&shared.Template{Meta: shared.Meta{ID: "t2"}, Name: "nossh", Kind: shared.TemplateManual, NoSSH: true},
		&shared.Space{Meta: shared.Meta{ID: "s0"}, Name: "legacy", UserID: "ann", Location: "here", TemplateID: "t0"},
		&shared.Space{Meta: shared.Meta{ID: "s1"}, Name: "quiet", UserID: "ann", Location: "here", TemplateID: "t1"},
		&shared.Space{Meta: shared.Meta{ID: "s2"}, Name: "closed", UserID: "ann", Location: "here", TemplateID: "t2"},
		&shared.User{Meta: shared.Meta{ID: "ann"}, Username: "ann", Email: "ann@example.com", Active: true, Roles: []string{shared.UserRoleID}},
	} {
		if err := st.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	audit := &auditLog{}
	streams := leaf.NewAgentStreams(leaf.StreamsOptions{Location: "here", Store: st, Audit: audit})
	a := leaf.NewAccess(leaf.AccessOptions{Location: "here", Store: st, Streams: streams, Audit: audit})
	ann, bob := as("ann", shared.PermUseSpaces), as("bob", shared.PermUseSpaces)

	for _, tt := range []struct {
		ctx         context.Context
		space, kind string
		code, msg   string
	}{
		{ann, "s0", "terminal", "", ""},
		{ann, "s0", "ssh", "", ""},
		{ann, "s1", "terminal", shared.EFORBIDDEN, `space "quiet" allows no terminal: its template "noterm" has with_terminal off`},
		{ann, "s1", "ssh", "", ""},
		{ann, "s1", "port forward", "", ""},
		{ann, "s2", "ssh", shared.EFORBIDDEN, `space "closed" allows no SSH: its template "nossh" has with_ssh off`},
		{ann, "s2", "terminal", "", ""},
		{bob, "s1", "terminal", shared.ENOTFOUND, ""}, // not a 403 that tells bob the space exists
	} {
		_, err := a.Enter(tt.ctx, caller, tt.space, leaf.Way{Kind: tt.kind})
		if shared.ErrorCode(err) != tt.code || (tt.msg != "" && shared.ErrorMessage(err) != tt.msg) {
			t.Errorf("%s of %s: %v (%s); want %q %s", tt.kind, tt.space, err, shared.ErrorCode(err), tt.code, tt.msg)
		}
	}
	if ev := audit.find("terminal refused", "ann"); ev == nil || ev.Properties["space_id"] != "s1" || !strings.Contains(ev.Details, "with_terminal off") {
		t.Errorf("the refused terminal is audited as %+v", ev)
	}
	if _, err := a.SSH(ann, caller, "s2"); shared.ErrorCode(err) != shared.EFORBIDDEN {
		t.Errorf("SSH into a space whose template has with_ssh off: %v, want EFORBIDDEN", err)
	}

	// At the space's leaf, for a stream relayed from another server.
	for _, tt := range []struct {
		space, open string
	}{{"s1", agentwire.OpenTerminal}, {"s1", agentwire.OpenSessions}, {"s2", agentwire.OpenSSH}} {
		h := &wire.RelayOpen{SpaceID: tt.space, UserID: "ann", From: "192.0.2.7", Via: "origin hq", Open: agentwire.Open{Type: tt.open}}
		if tt.open == agentwire.OpenTerminal {
			h.Open.Terminal = &agentwire.Terminal{}
		}
		if _, err := relayed(t, streams, h); shared.ErrorCode(err) != shared.EFORBIDDEN || !strings.Contains(shared.ErrorMessage(err), "off") {
			t.Errorf("a relayed %s into %s: %v, want EFORBIDDEN", tt.open, tt.space, err)
		}
	}
}
