package main_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared/config"
	"github.com/knot-dev/knot/shared/crypt"
)

// clientTokens lists the admin's API tokens named like knot connect's.
func clientTokens(t *testing.T, ts *testServer) []struct {
	ID        string     `json:"token_id"`
	ExpiresAt *time.Time `json:"expires_at"`
} {
	t.Helper()
	var all []struct {
		ID        string     `json:"token_id"`
		Name      string     `json:"name"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	ts.mustCall(t, "GET", "/api/tokens", ts.adminToken, nil, &all)
	var out []struct {
		ID        string     `json:"token_id"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	for _, tok := range all {
		if strings.HasPrefix(tok.Name, "knot client ") {
			out = append(out, struct {
				ID        string     `json:"token_id"`
				ExpiresAt *time.Time `json:"expires_at"`
			}{tok.ID, tok.ExpiresAt})
		}
	}
	return out
}

func savedClientToken(t *testing.T, file string) string {
	t.Helper()
	cfg, err := config.Load(config.Options{File: file, Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Client.Token
}

func TestConnectReusesItsTokenAndGivesItAnExpiry(t *testing.T) {
	ts := startServer(t)
	env := clientEnv(t)
	file := filepath.Join(env["XDG_CONFIG_HOME"], "knot", "knot.yaml")
	connect := func(args ...string) {
		t.Helper()
		mustSucceed(t, knot(t, env, adminPassword+"\n", append(append([]string{"connect", "--email", adminEmail}, args...), ts.URL)...))
	}

	connect()
	first := savedClientToken(t, file)
	toks := clientTokens(t, ts)
	if len(toks) != 1 || toks[0].ExpiresAt == nil {
		t.Fatalf("after one connect: %+v, want one token with an expiry", toks)
	}
	if left := time.Until(*toks[0].ExpiresAt); left < 89*24*time.Hour || left > 91*24*time.Hour {
		t.Fatalf("the token expires in %v, want 90 days", left)
	}

	// Connecting again keeps the saved token.
	connect()
	connect()
	if got := savedClientToken(t, file); got != first {
		t.Fatal("a second connect replaced a token with 90 days to live")
	}
	if toks := clientTokens(t, ts); len(toks) != 1 {
		t.Fatalf("after three connects %d tokens exist, want 1", len(toks))
	}

	// A saved token about to expire is replaced, and deleted.
	var login struct{ Token string }
	ts.mustCall(t, "POST", "/api/auth", "", map[string]string{"email": adminEmail, "password": adminPassword}, &login)
	var short struct{ Token string }
	ts.mustCall(t, "POST", "/api/tokens", login.Token, map[string]string{"name": "knot client short", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, &short)
	writeFile(t, file, "client:\n  server: "+ts.URL+"\n  token: "+short.Token+"\n")
	ts.mustCall(t, "DELETE", "/api/tokens/"+crypt.HashToken(first), ts.adminToken, nil, nil) // the 90-day one
	if n := len(clientTokens(t, ts)); n != 1 {
		t.Fatalf("%d client tokens before the replacement, want the short one", n)
	}
	connect()
	if got := savedClientToken(t, file); got == short.Token {
		t.Fatal("a token with an hour to live was kept")
	}
	toks = clientTokens(t, ts)
	if len(toks) != 1 || toks[0].ExpiresAt == nil || time.Until(*toks[0].ExpiresAt) < 89*24*time.Hour {
		t.Fatalf("after replacing the short token: %+v, want one 90-day token", toks)
	}
}

func TestConnectTokenLifetimeZeroNeverExpires(t *testing.T) {
	ts := startServer(t)
	env := clientEnv(t)
	mustSucceed(t, knot(t, env, adminPassword+"\n", "connect", "--email", adminEmail, "--token-lifetime", "0", ts.URL))
	if toks := clientTokens(t, ts); len(toks) != 1 || toks[0].ExpiresAt != nil {
		t.Fatalf("with --token-lifetime 0: %+v, want one token without expiry", toks)
	}
}
