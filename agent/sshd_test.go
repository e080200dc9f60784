package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knot-dev/knot/agent"
)

// The agent's block of authorized_keys: made with the file and its
// directory, replaced alone when the keys change (the other lines stay
// where they are), emptied when there are none; the file is mode 0600.
// A block without its end line is not touched.
func TestWriteAuthorizedKeysReplacesOnlyItsBlock(t *testing.T) {
	file := filepath.Join(t.TempDir(), ".ssh", "authorized_keys")
	read := func() string {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	block := func(keys ...string) string {
		return agent.KeysBegin + "\n" + strings.Join(append(keys, agent.KeysEnd), "\n") + "\n"
	}
	if err := agent.WriteAuthorizedKeys(file, []string{"ssh-ed25519 AAAA1 a"}); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), block("ssh-ed25519 AAAA1 a"); got != want {
		t.Fatalf("new file:\n%s\nwant\n%s", got, want)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(filepath.Dir(file)); fi.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v, want 0700", fi.Mode().Perm())
	}

	// Lines of the image's own, before and after the block.
	os.WriteFile(file, []byte("# mine\nssh-rsa AAAAmine me\n"+block("ssh-ed25519 AAAA1 a")+"ssh-ed25519 AAAAlast last"), 0o644)
	if err := agent.WriteAuthorizedKeys(file, []string{"ssh-ed25519 AAAA2 b", "ssh-ed25519 AAAA3 c\nssh-ed25519 AAAAsneak x", ""}); err != nil {
		t.Fatal(err)
	}
	want := "# mine\nssh-rsa AAAAmine me\n" + block("ssh-ed25519 AAAA2 b") + "ssh-ed25519 AAAAlast last\n"
	if got := read(); got != want {
		t.Fatalf("replaced block:\n%s\nwant\n%s", got, want)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v after a rewrite, want 0600", fi.Mode().Perm())
	}
	if err := agent.WriteAuthorizedKeys(file, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), "# mine\nssh-rsa AAAAmine me\n"+block()+"ssh-ed25519 AAAAlast last\n"; got != want {
		t.Fatalf("no keys:\n%s\nwant\n%s", got, want)
	}

	broken := "ssh-rsa AAAAmine me\n" + agent.KeysBegin + "\nssh-ed25519 AAAA1 a\n"
	os.WriteFile(file, []byte(broken), 0o600)
	if err := agent.WriteAuthorizedKeys(file, []string{"ssh-ed25519 AAAA2 b"}); err == nil || read() != broken {
		t.Fatalf("a block without its end: %v, file %q", err, read())
	}
}
