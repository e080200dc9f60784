package origin_test

import (
	"context"
	"testing"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage/memory"
)

// The fleet service manages leaf tokens for admins only, and answers a
// leaf's usage question for the location its credential binds.
func TestFleetService(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	for _, rec := range []shared.Record{
		&shared.Template{Meta: shared.Meta{ID: "t"}, Name: "box", Kind: shared.TemplateManual, ComputeUnits: 2, StorageUnits: 5},
		&shared.Space{Meta: shared.Meta{ID: "s1"}, Name: "a", UserID: "u", TemplateID: "t", Location: "eu", State: shared.SpaceRunning},
		&shared.Space{Meta: shared.Meta{ID: "s2"}, Name: "b", UserID: "u", TemplateID: "t", Location: "us", State: shared.SpaceStopped},
		&shared.Space{Meta: shared.Meta{ID: "s3"}, Name: "c", UserID: "v", TemplateID: "t", Location: "us", State: shared.SpaceRunning},
	} {
		if err := store.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	hub, err := origin.New(origin.Options{Store: store, SharedTokenHash: crypt.HashToken("shared-secret")})
	if err != nil {
		t.Fatal(err)
	}
	svc := origin.NewFleetService(hub, origin.FleetOptions{})
	admin := actorCtx(nil, true)

	_, _, err = svc.CreateLeafToken(actorCtx(shared.AllPermissions(), false), "eu", "eu-1")
	wantCode(t, err, shared.EFORBIDDEN)
	_, _, err = svc.CreateLeafToken(admin, "", "eu-1")
	wantCode(t, err, shared.EINVALID)
	_, _, err = svc.CreateLeafToken(admin, "eu", "bell\a")
	wantCode(t, err, shared.EINVALID)
	lt, secret, err := svc.CreateLeafToken(admin, "eu", "eu-1")
	if err != nil || lt.ID != crypt.HashToken(secret) || lt.Location != "eu" {
		t.Fatalf("CreateLeafToken = %+v, %q, %v", lt, secret, err)
	}
	_, _, err = svc.RotateLeafToken(admin, lt.ID, "forever")
	wantCode(t, err, shared.EINVALID)
	_, _, err = svc.RotateLeafToken(admin, "nope", "")
	wantCode(t, err, shared.ENOTFOUND)

	// The shared token names its location; a leaf token binds its own.
	u, err := svc.LeafUsage(ctx, "shared-secret", "u", "us")
	if want := (shared.Usage{NumberSpaces: 1, NumberSpacesDeployed: 1, UsedComputeUnits: 2, UsedStorageUnits: 5}); err != nil || u != want {
		t.Fatalf("usage of u elsewhere than us = %+v, %v; want %+v", u, err, want)
	}
	u, err = svc.LeafUsage(ctx, secret, "u", "us")
	if want := (shared.Usage{NumberSpaces: 1, UsedStorageUnits: 5}); err != nil || u != want {
		t.Fatalf("usage of u elsewhere than eu (the token's) = %+v, %v; want %+v", u, err, want)
	}
	_, err = svc.LeafUsage(ctx, "wrong", "u", "us")
	wantCode(t, err, shared.EUNAUTHORIZED)
	_, err = svc.LeafUsage(ctx, "shared-secret", "", "us")
	wantCode(t, err, shared.EINVALID)
	_, err = svc.LeafUsage(ctx, "shared-secret", "u", "")
	wantCode(t, err, shared.EINVALID)

	if err := svc.DeleteLeafToken(admin, lt.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, svc.DeleteLeafToken(admin, lt.ID), shared.ENOTFOUND)

	standalone := origin.NewFleetService(nil, origin.FleetOptions{})
	if ls, err := standalone.Leaves(admin); err != nil || len(ls) != 0 {
		t.Fatalf("a standalone server's leaves = %v, %v", ls, err)
	}
	_, err = standalone.LeafTokens(admin)
	wantCode(t, err, shared.ECONFLICT)
	_, err = standalone.LeafUsage(ctx, "shared-secret", "u", "us")
	wantCode(t, err, shared.ECONFLICT)
	_, err = standalone.Status(admin)
	wantCode(t, err, shared.ENOTFOUND)
}
