package api_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// A user's service password is shown to the user alone, and empty lists
// are [] rather than null.
func TestNewUserShowsTheServicePasswordToItsUserOnly(t *testing.T) {
	u := &shared.User{Meta: shared.Meta{ID: "u1"}, Username: "ann", ServicePassword: "secret"}
	if got := api.NewUser(u, "u1"); !got.Current || got.ServicePassword != "secret" {
		t.Errorf("to ann herself: current %v, service password %q", got.Current, got.ServicePassword)
	}
	got := api.NewUser(u, "u2")
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if got.Current || strings.Contains(string(b), "secret") || !strings.Contains(string(b), `"roles":[]`) {
		t.Errorf("to another user: %s", b)
	}
}

// A token without an expiry shows none; one past its expiry is expired.
func TestNewTokensShowExpiry(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	p := shared.Page[*shared.Token]{Items: []*shared.Token{{Name: "never"}, {Name: "old", ExpiresAt: now.Add(-time.Hour)}}, Total: 2}
	got := api.NewTokens(p, now)
	if len(got) != 2 || got[0].ExpiresAt != nil || got[0].Expired || got[1].ExpiresAt == nil || !got[1].Expired {
		t.Fatalf("tokens = %+v", got)
	}
}

// An expiry that is no RFC 3339 time is EINVALID, and a long one is cut in
// the message.
func TestTokenExpiry(t *testing.T) {
	at, err := (&api.TokenCreateRequest{ExpiresAt: "2030-01-02T04:04:05+01:00"}).Expiry()
	if err != nil || !at.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) || at.Location() != time.UTC {
		t.Fatalf("expiry = %v, %v", at, err)
	}
	_, err = (&api.TokenCreateRequest{ExpiresAt: strings.Repeat("x", 500)}).Expiry()
	if shared.ErrorCode(err) != shared.EINVALID || strings.Count(shared.ErrorMessage(err), "x") > 80 {
		t.Fatalf("a long bad expiry: %v", err)
	}
}

// A template check reports where a spec error is and the message of
// another EINVALID, and returns errors of other codes.
func TestNewTemplateCheck(t *testing.T) {
	if got, err := api.NewTemplateCheck(nil); err != nil || !got.Valid {
		t.Errorf("no error: %+v, %v", got, err)
	}
	se := &shared.SpecError{Field: "spec", Line: 3, Column: 2, Err: shared.Errorf(shared.EINVALID, "bad key")}
	if got, err := api.NewTemplateCheck(se); err != nil || got.Valid || got.Field != "spec" || got.Line != 3 || got.Column != 2 || got.Error == "" {
		t.Errorf("spec error: %+v, %v", got, err)
	}
	if got, err := api.NewTemplateCheck(shared.Errorf(shared.EINVALID, "kind is wrong")); err != nil || got.Valid || got.Error != "kind is wrong" {
		t.Errorf("invalid: %+v, %v", got, err)
	}
	if _, err := api.NewTemplateCheck(shared.Errorf(shared.EUNAVAILABLE, "down")); shared.ErrorCode(err) != shared.EUNAVAILABLE {
		t.Errorf("unavailable: %v", err)
	}
}

// GET /api/spaces takes all=true or false, and the list's parameters; any
// other all is EINVALID, saying which values it takes.
func TestSpaceQuery(t *testing.T) {
	f, err := api.SpaceQuery(url.Values{"all": {"true"}, "user_id": {"u1"}, "limit": {"5"}})
	if err != nil || !f.All || f.UserID != "u1" || f.Limit != 5 {
		t.Fatalf("all=true: %+v, %v", f, err)
	}
	if f, err := api.SpaceQuery(url.Values{"all": {"false"}}); err != nil || f.All {
		t.Fatalf("all=false: %+v, %v", f, err)
	}
	_, err = api.SpaceQuery(url.Values{"all": {"yes"}})
	if shared.ErrorCode(err) != shared.EINVALID || !strings.Contains(shared.ErrorMessage(err), "true or false") {
		t.Fatalf("all=yes: %v", err)
	}
	if _, err := api.SpaceQuery(url.Values{"limit": {"-1"}}); shared.ErrorCode(err) != shared.EINVALID {
		t.Fatalf("limit=-1: %v", err)
	}
}

// A leaf's list and tokens read back as the records they were made from.
func TestLeafConversionsRoundTrip(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	n := shared.LeafNode{NodeID: "n1", Location: "eu", Connected: true, ConnectedSince: at, RTT: 1500 * time.Microsecond, Applied: 7}
	l := api.NewLeafList([]shared.LeafNode{n}, nil)
	if l.Count != 1 || l.Unseen == nil || l.Leaves[0].Runtimes == nil || l.Leaves[0].LastSeen != nil {
		t.Fatalf("list = %+v", l)
	}
	if back := l.Leaves[0].LeafNode(); back.RTT != n.RTT || !back.ConnectedSince.Equal(at) || back.Applied != 7 || back.NodeID != "n1" {
		t.Fatalf("node read back = %+v", back)
	}
	tok := &shared.LeafToken{Meta: shared.Meta{ID: "t1", CreatedAt: at}, Location: "eu", Name: "eu-1", ExpiresAt: at.Add(time.Hour)}
	got := api.NewLeafToken(tok, at.Add(2*time.Hour))
	if !got.Expired || got.ExpiresAt == nil {
		t.Fatalf("token = %+v", got)
	}
	if back := got.LeafToken(); back.ID != "t1" || !back.ExpiresAt.Equal(tok.ExpiresAt) || back.Name != "eu-1" {
		t.Fatalf("token read back = %+v", back)
	}
}
