package leaf_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
)

// events returns the audit log of b's store, oldest first, as
// "actor|event|details|properties" lines.
func (b *spaceBed) events() []string {
	b.t.Helper()
	evs, _, err := b.store.ListAudit(context.Background(), 0, 0)
	if err != nil {
		b.t.Fatal(err)
	}
	var out []string
	for _, e := range slices.Backward(evs) {
		var props []string
		for _, k := range slices.Sorted(maps.Keys(e.Properties)) {
			props = append(props, k+"="+e.Properties[k])
		}
		out = append(out, fmt.Sprintf("%s|%s|%s|%s", e.Actor, e.Event, e.Details, strings.Join(props, " ")))
	}
	return out
}

// wantEvents fails unless the audit log of b holds want, oldest first.
func (b *spaceBed) wantEvents(want ...string) {
	b.t.Helper()
	if got := b.events(); !slices.Equal(got, want) {
		b.t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A space created, updated, started, stopped and deleted through the
// service, not through HTTP, leaves the audit events of those writes with
// the actor who made each and the caller in the context; a write the
// service refuses leaves none.
func TestSpaceServiceRecordsItsWrites(t *testing.T) {
	b := newSpaceBed(t, leaf.SpaceOptions{})
	_, ann := b.user("ann")
	_, admin := b.user("admin", shared.PermManageSpaces)
	ann = shared.NewContextWithCaller(ann, shared.Caller{IP: "192.0.2.7", UserAgent: "knot-cli"})
	admin = shared.NewContextWithCaller(admin, shared.Caller{IP: "198.51.100.3", ForwardedFor: "203.0.113.9"})
	box := b.template("box", shared.TemplateManual, 0)

	c, err := b.svc.Create(ann, shared.NewSpace{Name: "dev", TemplateID: box.ID})
	if err != nil {
		t.Fatal(err)
	}
	id := c.Space.ID
	desc, bad := "mine", "-bad"
	if _, err := b.svc.Update(ann, id, shared.SpaceUpdate{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	_, err = b.svc.Update(ann, id, shared.SpaceUpdate{Name: &bad})
	wantCode(t, err, shared.EINVALID)
	if _, err := b.svc.Start(ann, id); err != nil {
		t.Fatal(err)
	}
	_, err = b.svc.Start(ann, "no-such-space")
	wantCode(t, err, shared.ENOTFOUND)
	if _, err := b.svc.Stop(admin, id); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.Delete(admin, id); err != nil {
		t.Fatal(err)
	}
	_, err = b.svc.Delete(admin, id)
	wantCode(t, err, shared.ENOTFOUND)

	byAnn := "ip=192.0.2.7 space_id=" + id
	byAdmin := "ip=198.51.100.3 space_id=" + id
	b.wantEvents(
		"ann|Space Create|space dev created for ann at location home|"+byAnn+" space_location=home template_id=t-box user_agent=knot-cli user_id=u-ann",
		"ann|Space Update|space dev updated|"+byAnn+" user_agent=knot-cli user_id=u-ann",
		"ann|Space Start|space dev started|"+byAnn+" user_agent=knot-cli user_id=u-ann",
		"admin|Space Stop|space dev stopped|"+byAdmin+" user_id=u-admin x_forwarded_for=203.0.113.9",
		"admin|Space Delete|space dev deleted|"+byAdmin+" user_id=u-admin x_forwarded_for=203.0.113.9",
	)
}

// On an origin, a space it has the leaf of another location create and
// start is recorded by the origin, which made the change; a start the
// service cannot carry out leaves no event, nor does the deletion of a
// space with its owner (Purge), which the user service records.
func TestSpaceServiceRecordsWhatItCommandsALeaf(t *testing.T) {
	fleet := &fakeFleet{}
	b := newSpaceBed(t, leaf.SpaceOptions{Fleet: fleet})
	fleet.store = b.store
	_, ann := b.user("ann")
	c, err := b.svc.Create(ann, shared.NewSpace{Name: "dev", TemplateID: b.template("box", shared.TemplateContainer, 0).ID, Location: "away"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.Start(ann, c.Space.ID); err != nil {
		t.Fatal(err)
	}
	here := b.space(ann, "here", b.template("boxed", shared.TemplateContainer, 0))
	_, err = b.svc.Start(ann, here.ID)
	wantCode(t, err, shared.EUNAVAILABLE)
	byHand := b.space(ann, "byhand", b.template("manual", shared.TemplateManual, 0))
	if err := b.svc.Purge(context.Background(), b.stored(byHand.ID)); err != nil {
		t.Fatal(err)
	}
	_, err = b.svc.Get(ann, byHand.ID)
	wantCode(t, err, shared.ENOTFOUND)
	b.wantEvents(
		"ann|Space Create|space dev created for ann at location away|ip= space_id="+c.Space.ID+" space_location=away template_id=t-box user_id=u-ann",
		"ann|Space Start|space dev started|ip= space_id="+c.Space.ID+" user_id=u-ann",
		"ann|Space Create|space here created for ann at location home|ip= space_id="+here.ID+" space_location=home template_id=t-boxed user_id=u-ann",
		"ann|Space Create|space byhand created for ann at location home|ip= space_id="+byHand.ID+" space_location=home template_id=t-manual user_id=u-ann",
	)
}
