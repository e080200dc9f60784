package origin_test

import (
	"context"
	"testing"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/memory"
)

// The services record each write they make with the actor and the caller
// of the context; a write they refuse records nothing, and a change of
// one's own password needs the current one, whose wrong guesses are
// recorded too.
func TestServicesAuditTheirWrites(t *testing.T) {
	var events []*shared.AuditEvent
	opts := serviceOpts()
	opts.Audit = func(ctx context.Context, ev *shared.AuditEvent) {
		ev.Properties = shared.CallerProps(shared.CallerFrom(ctx), ev.Properties)
		events = append(events, ev)
	}
	store := memory.New()
	users := origin.NewUserService(store, opts, nil)
	admin, err := users.Setup(context.Background(), shared.NewUser{Username: "root", Email: "root@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	caller := shared.Caller{IP: "192.0.2.7", UserAgent: "knot-test"}
	ctx := shared.NewContextWithCaller(actorOf(admin, shared.AllPermissions()...), caller)
	groups := origin.NewGroupService(store, opts)
	g := &shared.Group{Name: "devs"}
	if err := groups.Create(ctx, g); err != nil {
		t.Fatal(err)
	}
	wantCode(t, groups.Create(ctx, &shared.Group{Name: "devs"}), shared.ECONFLICT)
	_, err = users.Update(ctx, admin.ID, shared.UserUpdate{Password: ptr("a-new-long-password")})
	wantCode(t, err, shared.EINVALID)
	_, err = users.Update(ctx, admin.ID, shared.UserUpdate{Password: ptr("a-new-long-password"), CurrentPassword: "wrong-password"})
	wantCode(t, err, shared.EFORBIDDEN)
	if _, err := users.Update(ctx, admin.ID, shared.UserUpdate{Password: ptr("a-new-long-password"), CurrentPassword: password}); err != nil {
		t.Fatal(err)
	}

	want := []struct{ event, actor, id string }{
		{"User Create", "root", admin.ID}, {"Group Create", "root", g.ID},
		{"User Update Refused", "root", admin.ID}, {"User Update", "root", admin.ID},
	}
	if len(events) != len(want) {
		t.Fatalf("recorded %d events, want %d: %+v", len(events), len(want), events)
	}
	for i, w := range want {
		ev := events[i]
		if ev.Event != w.event || ev.Actor != w.actor || ev.Properties["user_id"] != admin.ID {
			t.Errorf("event %d = %s by %s (user_id %s), want %s by %s", i, ev.Event, ev.Actor, ev.Properties["user_id"], w.event, w.actor)
		}
		if i > 0 && (ev.Properties["ip"] != caller.IP || ev.Properties["user_agent"] != caller.UserAgent) {
			t.Errorf("event %s was recorded from %q %q, want the caller's", ev.Event, ev.Properties["ip"], ev.Properties["user_agent"])
		}
	}
	if events[1].Properties["group_id"] != g.ID || events[3].Properties["updated_user_id"] != admin.ID {
		t.Errorf("events name the wrong records: %+v, %+v", events[1].Properties, events[3].Properties)
	}
}
