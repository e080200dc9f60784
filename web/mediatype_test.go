package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/testenv"
)

// TestJSONEndpointsRefuseOtherTypes sends JSON bodies labelled as something
// else, as an HTML form or a cross-site fetch can, over a real listener:
// every JSON endpoint answers 415 and nothing is written.
func TestJSONEndpointsRefuseOtherTypes(t *testing.T) {
	e := newEnv(t)
	ts := httptest.NewServer(e.h)
	t.Cleanup(ts.Close)
	firstAdmin := `{"username":"admin","email":"admin@example.com","password":"a-long-password"}`
	send := func(method, path, ctype, body, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&b)
		return resp.StatusCode, b.Error
	}

	for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		if code, msg := send("POST", "/api/users", ct, firstAdmin, ""); code != http.StatusUnsupportedMediaType || !strings.Contains(msg, "application/json") {
			t.Fatalf("first admin as %q = %d %q, want 415 naming application/json", ct, code, msg)
		}
	}
	if evs := e.auditEvents(); len(evs) != 0 {
		t.Fatalf("refused first-admin requests left %d audit events", len(evs))
	}
	if users, _ := e.store.List(context.Background(), shared.KindUser); len(users) != 0 {
		t.Fatalf("a refused request created %d users", len(users))
	}
	// The same body as JSON creates the admin; a charset parameter is fine.
	if code, msg := send("POST", "/api/users", "application/json; charset=utf-8", firstAdmin, ""); code != http.StatusCreated {
		t.Fatalf("first admin as JSON = %d %s", code, msg)
	}

	login := `{"email":"admin@example.com","password":"a-long-password"}`
	for _, path := range []string{"/api/auth", "/api/auth/web"} {
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", ""} {
			if code, msg := send("POST", path, ct, login, ""); code != http.StatusUnsupportedMediaType {
				t.Fatalf("login at %s as %q = %d %q, want 415", path, ct, code, msg)
			}
		}
	}
	_, token := e.user("ann", shared.AdminRoleID)
	if code, msg := send("POST", "/api/templates", "text/plain", `{"name":"t","kind":"manual"}`, token); code != http.StatusUnsupportedMediaType {
		t.Fatalf("template as text/plain = %d %q, want 415", code, msg)
	}

	// curl, as the README shows it, with and without the header.
	curl, err := exec.LookPath("curl")
	if err != nil {
		testenv.Missing(t, "curl", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, curl, append([]string{"-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", ts.URL + "/api/auth", "-d", login}, args...)...).Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		return string(bytes.TrimSpace(out))
	}
	if code := run(); code != "415" {
		t.Fatalf("curl -d without a Content-Type = %s, want 415", code)
	}
	if code := run("-H", "Content-Type: application/json"); code != "200" {
		t.Fatalf("curl -d with Content-Type: application/json = %s, want 200", code)
	}
}
