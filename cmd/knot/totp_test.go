package main_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage/badger"
)

const totpKey = "VF9hmdXZyzNF3rcP6M0PVF9hmdXZyzNF"

func TestServerWithTOTPNeedsEncrypt(t *testing.T) {
	r := knot(t, nil, "", "server", "--memorydb-enabled", "--listen", "127.0.0.1:0", "--listen-agent", "127.0.0.1:0", "--totp-enabled")
	if r.code == 0 || !strings.Contains(r.stderr, "server.totp.enabled is true but server.encrypt is not set") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// totpLogin logs in with a code (none when code is "") and returns the
// status and the answer.
func totpLogin(s *serverProc, code string) (int, map[string]any) {
	s.t.Helper()
	status, data := s.fetch("POST", "/api/auth", "", map[string]string{"email": "admin@example.com", "password": "a-long-password", "totp_code": code})
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		s.t.Fatalf("login answer %s: %v", data, err)
	}
	return status, out
}

// The admin who lost their authenticator: knot admin reset-totp on the
// stopped store makes the next login enrol again.
func TestAdminResetTOTPMakesTheUserEnrolAgain(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--listen", "127.0.0.1:0", "--listen-agent", "127.0.0.1:0", "--totp-enabled", "--encrypt", totpKey}
	s := runKnotServer(t, dir, args...)
	s.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)
	status, out := totpLogin(s, "")
	secret, _ := out["totp_secret"].(string)
	if status != http.StatusUnauthorized || secret == "" {
		t.Fatalf("first login = %d %v, want 401 with a secret", status, out)
	}
	code, err := crypt.TOTPCode(secret, crypt.TOTPStep(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if status, out := totpLogin(s, code); status != http.StatusOK || out["token"] == nil {
		t.Fatalf("login with a code = %d %v", status, out)
	}
	if status, out := totpLogin(s, ""); status != http.StatusUnauthorized || out["totp_secret"] != nil {
		t.Fatalf("login without a code once enrolled = %d %v, want 401 without a secret", status, out)
	}
	s.stop()

	store := filepath.Join(dir, "data", "badger")
	r := knot(t, nil, "", "admin", "reset-totp", "--badgerdb-path", store, "admin@example.com")
	if r.code != 0 {
		t.Fatalf("reset-totp: exit %d: %s", r.code, r.stderr)
	}
	u := readUser(t, store, "admin@example.com")
	if u.TOTPSecret != "" {
		t.Fatalf("the secret %q is left", u.TOTPSecret)
	}
	st, err := badger.Open(badger.Options{Path: store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(context.Background(), shared.KindTOTP, u.ID); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Errorf("the TOTP state is left: %v", err)
	}
	st.Close()

	s = runKnotServer(t, dir, args...)
	status, out = totpLogin(s, "")
	if status != http.StatusUnauthorized || out["totp_secret"] == nil || out["totp_secret"] == secret {
		t.Fatalf("login after the reset = %d %v, want 401 with a new secret", status, out)
	}
	s.stop()
}
