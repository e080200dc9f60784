package main_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/config"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/badger"
)

// knotBin is the knot binary built once for all tests.
var knotBin string

const testVersion = "v9.8.7-test"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "knot-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	knotBin = filepath.Join(dir, "knot")
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+testVersion, "-o", knotBin, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build knot:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// knot runs the binary in a fresh directory with no KNOT_* variables but
// those in env, and stdin as its input.
func knot(t testing.TB, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	return knotIn(t, t.TempDir(), env, stdin, args...)
}

func knotIn(t testing.TB, dir string, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, knotBin, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KNOT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run knot %v: %v", args, err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stdout string // a substring, "" for any
		stderr string
	}{
		{name: "VersionCommand", args: []string{"version"}, code: 0, stdout: "knot " + testVersion},
		{name: "VersionFlag", args: []string{"--version"}, code: 0, stdout: testVersion},
		{name: "HelpFlag", args: []string{"--help"}, code: 0, stdout: "scaffold"},
		{name: "HelpCommand", args: []string{"help"}, code: 0, stdout: "gen-server-key"},
		{name: "HelpOfServer", args: []string{"help", "server"}, code: 0, stdout: "--mysql-host"},
		{name: "ServerHelp", args: []string{"server", "--help"}, code: 0, stdout: "$KNOT_LISTEN"},
		{name: "AdminHelp", args: []string{"admin", "--help"}, code: 0, stdout: "reset-totp"},
		{name: "SpaceCreateShellHelp", args: []string{"space", "create", "--help"}, code: 0, stdout: "and SSH sessions: bash, zsh, fish or sh"},
		{name: "SetPasswordHelp", args: []string{"admin", "set-password", "--help"}, code: 0, stdout: "EMAIL"},
		{name: "ResetTOTPHelp", args: []string{"admin", "reset-totp", "-h"}, code: 0, stdout: "--badgerdb-path"},
		{name: "ScaffoldHelp", args: []string{"scaffold", "--help"}, code: 0, stdout: "--agent"},
		{name: "GenkeyHelp", args: []string{"genkey", "--help"}, code: 0, stdout: "server.encrypt"},
		{name: "GenServerKeyHelp", args: []string{"gen-server-key", "--help"}, code: 0, stdout: "shared_token"},
		{name: "VersionHelp", args: []string{"version", "--help"}, code: 0, stdout: "version"},

		{name: "NoCommandIsUsage", args: nil, code: 2, stderr: "no command given"},
		{name: "UnknownCommandIsUsage", args: []string{"serve"}, code: 2, stderr: `unknown command "serve"`},
		{name: "HelpOfUnknownIsUsage", args: []string{"help", "serve"}, code: 2, stderr: "serve"},
		{name: "UnknownGlobalFlagIsUsage", args: []string{"--bogus"}, code: 2, stderr: "-bogus"},
		{name: "UnknownServerFlagIsUsage", args: []string{"server", "--bogus"}, code: 2, stderr: "knot server: flag provided but not defined: -bogus"},
		{name: "UnknownAdminCommandIsUsage", args: []string{"admin", "nope"}, code: 2, stderr: `knot admin: unknown command "nope"`},
		{name: "AdminAloneIsUsage", args: []string{"admin"}, code: 2, stderr: "no command given"},
		{name: "MissingEmailIsUsage", args: []string{"admin", "set-password"}, code: 2, stderr: "missing EMAIL"},
		{name: "ExtraArgumentIsUsage", args: []string{"admin", "reset-totp", "a@example.com", "b"}, code: 2, stderr: `unexpected argument "b"`},
		{name: "ServerArgumentIsUsage", args: []string{"server", "now"}, code: 2, stderr: `unexpected argument "now"`},
		{name: "GenkeyArgumentIsUsage", args: []string{"genkey", "x"}, code: 2, stderr: "unexpected argument"},
		{name: "ScaffoldWithoutKindIsUsage", args: []string{"scaffold"}, code: 2, stderr: "--server, --agent, --client, --nomad or --nomad-template"},
		{name: "ScaffoldTwoKindsIsUsage", args: []string{"scaffold", "--server", "--client"}, code: 2, stderr: "only one"},
		{name: "BadBoolFlagIsUsage", args: []string{"server", "--disable-proxy=maybe"}, code: 2, stderr: "disable-proxy"},
		{name: "BadListenFlagIsUsage", args: []string{"server", "--listen", "nowhere"}, code: 2, stderr: "flag --listen: server.listen"},
		{name: "BadPortFlagIsUsage", args: []string{"server", "--mysql-port", "x"}, code: 2, stderr: "flag --mysql-port: server.mysql.port"},
		{name: "TwoStoresByFlagIsUsage", args: []string{"admin", "set-password", "--mysql-enabled", "--redis-enabled", "a@example.com"}, code: 2, stderr: "only one storage"},
		{name: "FlagMissingValueIsUsage", args: []string{"server", "--listen"}, code: 2, stderr: "flag needs an argument"},

		{name: "BadEnvIsFailure", args: []string{"server"}, env: map[string]string{"KNOT_LISTEN": "nowhere"}, code: 1, stderr: "env KNOT_LISTEN: server.listen"},
		{name: "MissingConfigFileIsFailure", args: []string{"server", "--config", "missing.yaml"}, code: 1, stderr: "flag --config: cannot read config file: open missing.yaml"},
		{name: "AdminOnLeafIsFailure", args: []string{"admin", "reset-totp", "--memorydb-enabled", "a@example.com"}, env: map[string]string{"KNOT_SHARED_TOKEN": "x", "KNOT_ORIGIN_SERVER": "https://origin.example.com"}, code: 1, stderr: "leaf"},
		{name: "UnknownUserIsFailure", args: []string{"admin", "reset-totp", "--memorydb-enabled", "nobody@example.com"}, code: 1, stderr: `no user has the email "nobody@example.com"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := knot(t, tt.env, "", tt.args...)
			if r.code != tt.code {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, r.stdout)
			}
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, r.stderr)
			}
			if tt.code == 2 && !strings.Contains(r.stderr, "--help' for usage") {
				t.Errorf("usage error without a help hint:\n%s", r.stderr)
			}
		})
	}
}

func TestBadConfigFileNamesKeyAndLine(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "knot.yaml"), []byte("server:\n  listen: 127.0.0.1:3000\n  mysql:\n    port: many\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := knotIn(t, dir, nil, "", "server")
	if r.code != 1 || !strings.Contains(r.stderr, "knot.yaml:4: server.mysql.port") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestGenkeyPrintsAnEncryptionKey(t *testing.T) {
	r := knot(t, nil, "", "genkey")
	if r.code != 0 || !regexp.MustCompile(`^[A-Za-z0-9]{32}\n$`).MatchString(r.stdout) {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
	if _, err := crypt.NewSealer(strings.TrimSpace(r.stdout)); err != nil {
		t.Errorf("key is not usable: %v", err)
	}
	// The key is accepted as server.encrypt.
	if _, err := config.Load(config.Options{Env: func(string) (string, bool) { return "", false }, Flags: map[string]string{"encrypt": strings.TrimSpace(r.stdout)}}); err != nil {
		t.Errorf("key is not a valid server.encrypt: %v", err)
	}
	if again := knot(t, nil, "", "genkey"); again.stdout == r.stdout {
		t.Error("two keys are equal")
	}
}

func TestGenServerKeyPrintsAToken(t *testing.T) {
	r := knot(t, nil, "", "gen-server-key")
	if r.code != 0 || !regexp.MustCompile(`^[A-Za-z0-9_-]{43}\n$`).MatchString(r.stdout) {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestScaffoldServerIsAcceptedAsConfig(t *testing.T) {
	r := knot(t, nil, "", "scaffold", "--server")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	p := filepath.Join(t.TempDir(), "knot.yaml")
	if err := os.WriteFile(p, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Options{File: p, Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("knot server --config does not accept the scaffold: %v", err)
	}
	if cfg.Role() != config.RoleStandalone || cfg.Storage() != config.StoreBadger || cfg.Server.Listen != "127.0.0.1:3000" {
		t.Errorf("scaffold loads as role %s, storage %s, listen %s", cfg.Role(), cfg.Storage(), cfg.Server.Listen)
	}
}

func TestScaffoldAgentAndClientLoad(t *testing.T) {
	for _, what := range []string{"agent", "client"} {
		r := knot(t, nil, "", "scaffold", "--"+what)
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", what, r.code, r.stderr)
		}
		if _, err := config.Parse("knot.yaml", []byte(r.stdout)); err != nil {
			t.Errorf("%s scaffold does not load: %v", what, err)
		}
	}
}

func TestKnotYamlExampleIsTheServerScaffold(t *testing.T) {
	want := knot(t, nil, "", "scaffold", "--server").stdout
	got, err := os.ReadFile("../../knot.yaml.example")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Error("knot.yaml.example differs from knot scaffold --server; regenerate it with: go run ./cmd/knot scaffold --server > knot.yaml.example")
	}
}

// seedUser writes a user (unless nil) and other records into the badger
// store in dir.
func seedUser(t *testing.T, dir string, u *shared.User, more ...shared.Record) {
	t.Helper()
	st, err := badger.Open(badger.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if u != nil {
		more = append([]shared.Record{u}, more...)
	}
	for _, rec := range more {
		if err := st.Put(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
}

func readUser(t *testing.T, dir, email string) *shared.User {
	t.Helper()
	st, err := badger.Open(badger.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := storage.Lookup[shared.User](context.Background(), st, "email:"+email)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func newUser() *shared.User {
	oldHash, _ := crypt.HashPassword("old-password")
	return &shared.User{
		Meta:  shared.Meta{ID: "u-ann", CreatedAt: time.Now().UTC()},
		Email: "ann@example.com", Username: "ann", Active: true,
		PasswordHash: oldHash, TOTPSecret: "JBSWY3DPEHPK3PXP",
	}
}

func TestAdminSetPasswordWritesTheBadgerStore(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      bool // give the path by KNOT_BADGERDB_PATH instead of a flag
		email    string
		stdin    string
		code     int
		stderr   string
		password string // the password that works afterwards
	}{
		{name: "NewPasswordWorks", email: "ann@example.com", stdin: "correct horse\n", password: "correct horse"},
		{name: "EmailMatchesAnyCase", email: "Ann@Example.COM", stdin: "correct horse\r\n", password: "correct horse"},
		{name: "LastLineWithoutNewline", email: "ann@example.com", stdin: "correct horse", env: true, password: "correct horse"},
		{name: "ShortPasswordIsRefused", email: "ann@example.com", stdin: "short\n", code: 1, stderr: "at least 8 characters", password: "old-password"},
		{name: "EmptyInputIsRefused", email: "ann@example.com", stdin: "", code: 1, stderr: "no password", password: "old-password"},
		{name: "UnknownEmailIsRefused", email: "bob@example.com", stdin: "correct horse\n", code: 1, stderr: `no user has the email "bob@example.com"`, password: "old-password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "badger")
			seedUser(t, dir, newUser())
			args := []string{"admin", "set-password", "--badgerdb-path", dir, tt.email}
			var env map[string]string
			if tt.env {
				args = []string{"admin", "set-password", tt.email}
				env = map[string]string{"KNOT_BADGERDB_PATH": dir}
			}
			r := knot(t, env, tt.stdin, args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("exit %d (want %d), stderr:\n%s", r.code, tt.code, r.stderr)
			}
			u := readUser(t, dir, "ann@example.com")
			if !crypt.CheckPassword(u.PasswordHash, tt.password) {
				t.Errorf("password %q does not match the stored hash", tt.password)
			}
			if tt.code == 0 {
				if crypt.CheckPassword(u.PasswordHash, "old-password") {
					t.Error("the old password still works")
				}
				if u.TOTPSecret != "JBSWY3DPEHPK3PXP" || u.Username != "ann" || !u.Active {
					t.Errorf("other fields changed: %+v", u)
				}
				if !strings.Contains(r.stdout, "ann@example.com") {
					t.Errorf("stdout %q", r.stdout)
				}
			}
		})
	}
}

func TestAdminResetTOTPClearsTheSecret(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "badger")
	seedUser(t, dir, newUser())
	r := knot(t, nil, "", "admin", "reset-totp", "--badgerdb-path", dir, "ann@example.com")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	u := readUser(t, dir, "ann@example.com")
	if u.TOTPSecret != "" {
		t.Errorf("TOTP secret %q left", u.TOTPSecret)
	}
	if !crypt.CheckPassword(u.PasswordHash, "old-password") {
		t.Error("the password changed")
	}
	st, err := badger.Open(badger.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, _, err := st.ListAudit(context.Background(), 0, 10)
	if err != nil || len(evs) != 1 || evs[0].Event != "user.totp_reset" {
		t.Errorf("audit log %+v, %v", evs, err)
	}
}

func TestAdminRefusesAStoreInUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "badger")
	seedUser(t, dir, newUser())
	st, err := badger.Open(badger.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := knot(t, nil, "", "admin", "reset-totp", "--badgerdb-path", dir, "ann@example.com")
	if r.code != 1 || !strings.Contains(r.stderr, "in use") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestAdminSetPasswordRevokesSessionsAndTokens(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("KeepTokens=%v", keep), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "badger")
			seedUser(t, dir, newUser())
			bob := newUser()
			bob.ID, bob.Email, bob.Username = "u-bob", "bob@example.com", "bob"
			seedUser(t, dir, bob)
			now := time.Now().UTC()
			for _, owner := range []string{"u-ann", "u-bob"} {
				for i := range 2 {
					id := fmt.Sprintf("%s-%d", owner, i)
					seedUser(t, dir, nil,
						&shared.Session{Meta: shared.Meta{ID: "s-" + id, CreatedAt: now}, UserID: owner, ExpiresAt: now.Add(time.Hour)},
						&shared.Token{Meta: shared.Meta{ID: "t-" + id, CreatedAt: now}, UserID: owner, Name: id})
				}
			}
			args := []string{"admin", "set-password", "--badgerdb-path", dir, "ann@example.com"}
			if keep {
				args = []string{"admin", "set-password", "--badgerdb-path", dir, "--keep-tokens", "ann@example.com"}
			}
			r := knot(t, nil, "correct horse\n", args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			st, err := badger.Open(badger.Options{Path: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			ctx := context.Background()
			sessions, _ := storage.List[shared.Session](ctx, st)
			tokens, _ := storage.List[shared.Token](ctx, st)
			count := func(owner string, ids []string) int {
				n := 0
				for _, id := range ids {
					if strings.Contains(id, owner) {
						n++
					}
				}
				return n
			}
			var sids, tids []string
			for _, se := range sessions {
				sids = append(sids, se.ID)
			}
			for _, tk := range tokens {
				tids = append(tids, tk.ID)
			}
			wantTokens := 0
			if keep {
				wantTokens = 2
			}
			if count("u-ann", sids) != 0 || count("u-ann", tids) != wantTokens {
				t.Fatalf("ann keeps sessions %v and tokens %v, want none and %d tokens", sids, tids, wantTokens)
			}
			if count("u-bob", sids) != 2 || count("u-bob", tids) != 2 {
				t.Fatalf("bob's sessions %v or tokens %v were touched", sids, tids)
			}
			if !strings.Contains(r.stdout, "2 sessions ended") {
				t.Errorf("stdout %q does not say what ended", r.stdout)
			}
		})
	}
}
