package origin

import (
	"strconv"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// The codes waiting for their CLI are bounded per user and in all; codes
// go when they are used or expire, and a used one is still told apart
// from a forged one until it is forgotten.
func TestConnectCodesBounds(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewConnectCodes(func() time.Time { return now })
	verifier := crypt.NewToken()
	challenge := shared.ConnectChallenge(verifier)
	ann := ConnectGrant{UserID: "ann", SessionID: "s1", Host: "laptop"}
	var first string
	for i := range maxConnectCodesPerUser {
		code, err := c.Issue(ann, challenge)
		if err != nil {
			t.Fatalf("code %d: %v", i, err)
		}
		if i == 0 {
			first = code
		}
	}
	if _, err := c.Issue(ann, challenge); shared.ErrorCode(err) != shared.EUNAVAILABLE {
		t.Fatalf("code %d of one user: %v, want EUNAVAILABLE", maxConnectCodesPerUser+1, err)
	}
	g, err := c.Redeem(first, verifier)
	if err != nil || g != ann {
		t.Fatalf("Redeem = %+v, %v", g, err)
	}
	if _, err := c.Issue(ann, challenge); err != nil {
		t.Fatalf("a used code still counts: %v", err)
	}
	if _, err := c.Redeem(first, verifier); err == nil || shared.ErrorCode(err) != shared.EINVALID {
		t.Fatalf("reuse: %v", err)
	}

	// The store is bounded: beyond it, only used or expired codes make room.
	for i := 0; len(c.codes) < maxConnectCodes; i++ {
		if _, err := c.Issue(ConnectGrant{UserID: "u" + strconv.Itoa(i)}, challenge); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Issue(ConnectGrant{UserID: "bob"}, challenge); err != nil {
		t.Fatalf("the used code makes no room: %v", err)
	}
	if _, err := c.Issue(ConnectGrant{UserID: "carol"}, challenge); shared.ErrorCode(err) != shared.EUNAVAILABLE {
		t.Fatalf("a full store: %v, want EUNAVAILABLE", err)
	}
	now = now.Add(shared.ConnectCodeTTL)
	if _, err := c.Issue(ConnectGrant{UserID: "carol"}, challenge); err != nil {
		t.Fatalf("expired codes make no room: %v", err)
	}
	if len(c.codes) != 1 {
		t.Errorf("%d codes kept, want the new one", len(c.codes))
	}
}
