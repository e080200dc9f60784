package shared_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
)

// The S256 challenge is RFC 7636's: its appendix B's example.
func TestConnectChallengeIsS256(t *testing.T) {
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	if got := shared.ConnectChallenge(verifier); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Errorf("challenge %q", got)
	}
	if err := shared.CheckConnectVerifier(verifier); err != nil {
		t.Error(err)
	}
	if err := shared.CheckConnectChallenge(shared.ConnectChallenge(verifier)); err != nil {
		t.Error(err)
	}
}

// FuzzConnectRequest checks the page's query as /connect reads it: what
// passes is a loopback port, and a state and challenge that go into the
// CLI's callback address unchanged.
func FuzzConnectRequest(f *testing.F) {
	f.Add(5555, "state-1234", shared.ConnectChallenge(strings.Repeat("v", 43)), "laptop")
	f.Add(0, "", "", "")
	f.Add(65536, "a b", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c~", "h\x00")
	f.Fuzz(func(t *testing.T, port int, state, challenge, host string) {
		r := shared.ConnectRequest{Port: port, State: state, Challenge: challenge, Host: host}
		err := r.Check()
		if err != nil {
			if shared.ErrorCode(err) != shared.EINVALID {
				t.Fatalf("%+v: %v, want EINVALID", r, err)
			}
			return
		}
		if port < 1 || port > 65535 || url.QueryEscape(state) != state || url.QueryEscape(challenge) != challenge || len(challenge) != 43 {
			t.Fatalf("%+v passed", r)
		}
	})
}
