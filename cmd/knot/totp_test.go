package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	knotmain "github.com/knot-dev/knot/cmd/knot"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage/badger"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

const totpKey = "VF9hmdXZyzNF3rcP6M0PVF9hmdXZyzNF"

func TestServerWithTOTPNeedsEncrypt(t *testing.T) {
	r := knot(t, nil, "", "server", "--memorydb-enabled", "--listen", "127.0.0.1:0", "--listen-agent", "127.0.0.1:0", "--totp-enabled")
	if r.code == 0 || !strings.Contains(r.stderr, "server.totp.enabled is true but server.encrypt is not set") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// rawFiles returns the bytes of every file under dir.
func rawFiles(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		all = append(all, b...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
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
	// The store's files hold the user (the email is there to be found)
	// but not the secret in plain text.
	if raw := rawFiles(t, store); !bytes.Contains(raw, []byte("admin@example.com")) || bytes.Contains(raw, []byte(secret)) {
		t.Fatalf("the store's files hold the email: %v, the plain secret: %v", bytes.Contains(raw, []byte("admin@example.com")), bytes.Contains(raw, []byte(secret)))
	}
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

// serveTOTP runs a web server with TOTP on over a memory store holding one
// user, admin, who has no secret yet, and returns its URL.
func serveTOTP(t *testing.T) string {
	t.Helper()
	sealer, err := crypt.NewSealer(totpKey)
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New()
	hash, err := crypt.HashPassword(adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), &shared.User{Meta: shared.Meta{ID: "u-admin"}, Username: "admin", Email: adminEmail,
		PasswordHash: hash, Roles: []string{shared.AdminRoleID}, Active: true}); err != nil {
		t.Fatal(err)
	}
	srv, err := knotmain.NewServer(knotmain.ServerParts{Store: st, Options: web.Options{Location: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Sealer: sealer, TOTP: &origin.TOTPOptions{Window: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("web server: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// knot connect sets up two-factor login as a person at a terminal would:
// no code at first, then the code of the secret it shows; the next connect
// takes a code at once.
func TestConnectSetsUpTOTP(t *testing.T) {
	base := serveTOTP(t)
	env := clientEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, knotBin, "connect", "--email", adminEmail, base)
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KNOT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, adminPassword+"\n\n") // the password, and no code yet
	secretRe := regexp.MustCompile(`(?m)^  ([A-Z2-7]{32})$`)
	var shown strings.Builder
	sc := bufio.NewScanner(stderr)
	secret := ""
	for secret == "" && sc.Scan() {
		shown.WriteString(sc.Text() + "\n")
		if m := secretRe.FindStringSubmatch(sc.Text()); m != nil {
			secret = m[1]
		}
	}
	if secret == "" {
		t.Fatalf("knot connect showed no secret:\n%s", shown.String())
	}
	code, err := crypt.TOTPCode(secret, crypt.TOTPStep(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, code+"\n")
	stdin.Close()
	var rest strings.Builder
	for sc.Scan() {
		rest.WriteString(sc.Text() + "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("knot connect: %v\nstderr:\n%s%s", err, shown.String(), rest.String())
	}
	if !strings.Contains(stdout.String(), "Connected to "+base+" as admin") {
		t.Fatalf("stdout: %s", stdout.String())
	}
	if !strings.Contains(rest.String(), "otpauth://totp/") {
		t.Errorf("the otpauth URI was not shown:\n%s%s", shown.String(), rest.String())
	}

	// Next time the code of the next step logs in at once.
	next, err := crypt.TOTPCode(secret, crypt.TOTPStep(time.Now())+1)
	if err != nil {
		t.Fatal(err)
	}
	r := knot(t, clientEnv(t), adminPassword+"\n"+next+"\n", "connect", "--email", adminEmail, base)
	mustSucceed(t, r)
	if strings.Contains(r.stderr, "otpauth") {
		t.Errorf("a second secret was shown:\n%s", r.stderr)
	}
	r = knot(t, clientEnv(t), adminPassword+"\n"+next+"\n", "connect", "--email", adminEmail, base)
	if r.code != 1 || !strings.Contains(r.stderr, "used already") {
		t.Errorf("connect with a used code: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// An origin and a trusted leaf as processes, both with TOTP: the admin sets
// up two-factor login at the origin, and with the origin killed the leaf
// checks the admin's codes on its own, each once, and none that the origin
// took.
func TestLeafProcessChecksTOTPCodesWithTheOriginDown(t *testing.T) {
	totpArgs := []string{"--totp-enabled", "--encrypt", totpKey}
	o := runKnotServer(t, t.TempDir(), append([]string{"--listen", "127.0.0.1:" + loopbackPort(t), "--location", "hq", "--shared-token", fleetSharedToken}, totpArgs...)...)
	l := runKnotServer(t, t.TempDir(), append([]string{"--listen", "127.0.0.1:0", "--location", "branch", "--shared-token", fleetSharedToken, "--origin-server", o.base}, totpArgs...)...)
	o.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)

	status, out := totpLogin(o, "")
	secret, _ := out["totp_secret"].(string)
	if status != http.StatusUnauthorized || secret == "" {
		t.Fatalf("first login at the origin = %d %v, want 401 with a secret", status, out)
	}
	codeOf := func(step int64) string {
		c, err := crypt.TOTPCode(secret, step)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	used := crypt.TOTPStep(time.Now())
	status, out = totpLogin(o, codeOf(used))
	session, _ := out["token"].(string)
	if status != http.StatusOK || session == "" {
		t.Fatalf("login with a code at the origin = %d %v", status, out)
	}
	// A token made after the secret reaches the leaf after it.
	var tok struct{ Token string }
	o.call("POST", "/api/tokens", session, map[string]any{"name": "probe"}, 201, &tok)
	waitUntil(t, 30*time.Second, func() string {
		if status, body := l.fetch("GET", "/api/users/whoami", tok.Token, nil); status != http.StatusOK {
			return "the leaf does not know the token yet: " + string(body)
		}
		return ""
	})

	o.kill()
	waitUntil(t, 30*time.Second, func() string {
		var st struct {
			OriginReachable bool `json:"origin_reachable"`
		}
		status, body := l.fetch("GET", "/api/leaf/status", tok.Token, nil)
		if status != http.StatusOK || json.Unmarshal(body, &st) != nil || st.OriginReachable {
			return "the leaf still counts the origin up: " + string(body)
		}
		return ""
	})
	if status, out := totpLogin(l, ""); status != http.StatusUnauthorized || !strings.Contains(out["error"].(string), "two-factor code is required") {
		t.Fatalf("login at the leaf without a code = %d %v", status, out)
	}
	// The code the origin took came with the user's record: the leaf
	// refuses it. A later one logs in (the window takes the next step's).
	if status, out := totpLogin(l, codeOf(used)); status != http.StatusUnauthorized {
		t.Fatalf("the code used at the origin, at the leaf = %d %v", status, out)
	}
	c := codeOf(max(used+1, crypt.TOTPStep(time.Now())))
	status, out = totpLogin(l, c)
	if status != http.StatusOK || out["token"] == nil {
		t.Fatalf("login at the leaf with a code, the origin down = %d %v", status, out)
	}
	if status, out := totpLogin(l, c); status != http.StatusUnauthorized {
		t.Fatalf("the same code again at the leaf = %d %v", status, out)
	}
	l.stop()
}

// A server with TOTP and no server.encrypt, which seals the secrets, is
// refused.
func TestTOTPWithoutSealerIsRefused(t *testing.T) {
	_, err := knotmain.NewServer(knotmain.ServerParts{Store: memory.New(), Options: web.Options{Location: "test"},
		TOTP: &origin.TOTPOptions{Window: 1}})
	if err == nil || !strings.Contains(err.Error(), "server.encrypt") {
		t.Fatalf("NewServer = %v, want a refusal naming server.encrypt", err)
	}
}
