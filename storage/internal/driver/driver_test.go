package driver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/internal/driver"
)

func TestLifeFailsCallsAfterClose(t *testing.T) {
	var l driver.Life
	if err := l.Enter(shared.KindUser); err != nil {
		t.Fatalf("enter an open store: %v", err)
	}
	l.Exit()
	if err := l.Enter("bogus"); shared.ErrorCode(err) != shared.EINVALID || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("enter with an unknown kind: %v; want EINVALID naming it", err)
	}
	released := 0
	release := func() error { released++; return nil }
	if err := l.Close(release); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(release); err != nil || released != 1 {
		t.Fatalf("second close: %v, released %d times; want nil and once", err, released)
	}
	if err := l.Enter(""); shared.ErrorCode(err) != shared.EUNAVAILABLE {
		t.Fatalf("enter after close: %v; want EUNAVAILABLE", err)
	}
}

func TestLifeCloseWaitsForCallsInside(t *testing.T) {
	var l driver.Life
	if err := l.Enter(""); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() {
		l.Close(func() error { return nil })
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("close returned while a call was inside")
	case <-time.After(50 * time.Millisecond):
	}
	l.Exit()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("close did not return after the call left")
	}
}

func TestCheckRevision(t *testing.T) {
	for _, tt := range []struct {
		name      string
		want, cur int64
		exists    bool
		code      string
	}{
		{"NewRecordGoesAhead", 0, 0, false, ""},
		{"NewRecordThatExistsConflicts", 0, 3, true, shared.ECONFLICT},
		{"UpdateOfMissingRecordIsNotFound", 3, 0, false, shared.ENOTFOUND},
		{"UpdateAtStoredRevisionGoesAhead", 3, 3, true, ""},
		{"UpdateAtOlderRevisionConflicts", 2, 3, true, shared.ECONFLICT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := driver.CheckRevision(shared.KindGroup, "g", tt.want, tt.cur, tt.exists)
			if tt.code == "" && err != nil || tt.code != "" && shared.ErrorCode(err) != tt.code {
				t.Fatalf("got %v, want code %q", err, tt.code)
			}
		})
	}
}

func TestCheckBatchNamesTheBadChange(t *testing.T) {
	good := shared.Change{Kind: shared.KindGroup, ID: "g", Revision: 1, Data: []byte(`{"id":"g","name":"dev"}`)}
	for _, tt := range []struct {
		name string
		bad  shared.Change
		says string
	}{
		{"UnknownKind", shared.Change{Kind: "bogus", ID: "x"}, `change 1: unknown record kind "bogus"`},
		{"NoID", shared.Change{Kind: shared.KindGroup}, "change 1: group has no id"},
		{"DataNotARecord", shared.Change{Kind: shared.KindGroup, ID: "x", Data: []byte(`[`)}, "change 1:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := driver.CheckBatch([]shared.Change{good, tt.bad})
			if shared.ErrorCode(err) != shared.EINVALID || !strings.Contains(shared.ErrorMessage(err), tt.says) {
				t.Fatalf("got %v, want EINVALID saying %q", err, tt.says)
			}
		})
	}
	keys, err := driver.CheckBatch([]shared.Change{good, {Kind: shared.KindUser, ID: "u", Deleted: true}})
	if err != nil || len(keys) != 2 || len(keys[0]) == 0 || keys[1] != nil {
		t.Fatalf("keys of a good batch: %q, %v; want the group's keys and none for the tombstone", keys, err)
	}
}

func TestEncodeAuditLeavesTheIDOut(t *testing.T) {
	ev := &shared.AuditEvent{ID: 42, Event: "space.start"}
	data, err := driver.EncodeAudit(ev)
	if err != nil || strings.Contains(string(data), "42") || !strings.Contains(string(data), "space.start") {
		t.Fatalf("encoded %s, %v", data, err)
	}
	if ev.ID != 42 {
		t.Fatalf("the caller's event lost its id: %d", ev.ID)
	}
}

func TestFail(t *testing.T) {
	classify := func(err error, what string) error {
		return shared.Wrap(shared.EINTERNAL, err, "test: %s", what)
	}
	if err := driver.Fail(nil, classify, "put %s", "g"); err != nil {
		t.Fatalf("nil became %v", err)
	}
	coded := shared.Errorf(shared.ENOTFOUND, "group g not found")
	if err := driver.Fail(fmt.Errorf("wrapped: %w", coded), classify, "put %s", "g"); err != coded {
		t.Fatalf("a coded error became %v", err)
	}
	if err := driver.Fail(io.ErrClosedPipe, classify, "put %s", "g"); shared.ErrorMessage(err) != "test: put g" || !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("an uncoded error became %v", err)
	}
}

func TestConnectionError(t *testing.T) {
	mine := errors.New("pool timeout")
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("read: %w", io.EOF), true},
		{syscall.ECONNREFUSED, true},
		{context.DeadlineExceeded, true},
		{mine, true},
		{errors.New("syntax error"), false},
	} {
		if got := driver.ConnectionError(tt.err, mine); got != tt.want {
			t.Errorf("ConnectionError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestUnresolvedNamesHostAndReason(t *testing.T) {
	for _, cause := range []error{
		shared.Errorf(shared.ENOTFOUND, "no SRV records for db.example"),
		errors.New("no SRV records for db.example"),
	} {
		err := driver.Unresolved("mysql", "srv+db.example", cause)
		want := "mysql: cannot resolve srv+db.example: no SRV records for db.example"
		if shared.ErrorCode(err) != shared.EUNAVAILABLE || shared.ErrorMessage(err) != want || err.Error() != want {
			t.Errorf("got %v (%s), want EUNAVAILABLE %q", err, shared.ErrorCode(err), want)
		}
	}
}
