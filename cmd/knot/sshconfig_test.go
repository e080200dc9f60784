package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testBlock = sshConfigStart + "\nHost knot.a\n  ProxyCommand knot forward ssh %n\n" + sshConfigEnd + "\n"

func TestSpliceSSHBlock(t *testing.T) {
	user := "Host work\n  User me\n"
	in, err := spliceSSHBlock(user, testBlock)
	if err != nil || in != testBlock+"\n"+user {
		t.Fatalf("insert: %q %v", in, err)
	}
	other := strings.Replace(testBlock, "knot.a", "knot.b", 1)
	again, err := spliceSSHBlock(in, other)
	if err != nil || again != other+"\n"+user {
		t.Fatalf("replace: %q %v", again, err)
	}
	out, err := spliceSSHBlock(again, "")
	if err != nil || out != user {
		t.Fatalf("remove: %q %v", out, err)
	}
	if _, err := spliceSSHBlock(user+sshConfigStart+"\nHost x\n", testBlock); err == nil || !strings.Contains(err.Error(), "by hand") {
		t.Fatalf("a start marker without an end: %v", err)
	}
}

// FuzzSpliceSSHBlock: for any file without knot's markers, putting the
// block in and taking it out gives the file back, and the block is there
// once in between.
func FuzzSpliceSSHBlock(f *testing.F) {
	f.Add("Host work\n  User me\n")
	f.Add("")
	f.Add("no newline at the end")
	f.Add("\n\n#===KNOT-END===\n")
	f.Fuzz(func(t *testing.T, config string) {
		if strings.Contains(config, sshConfigStart) {
			return
		}
		in, err := spliceSSHBlock(config, testBlock)
		if err != nil || strings.Count(in, sshConfigStart) != 1 {
			t.Fatalf("insert into %q: %q %v", config, in, err)
		}
		twice, err := spliceSSHBlock(in, testBlock)
		if err != nil || twice != in {
			t.Fatalf("insert again into %q: %q %v", config, twice, err)
		}
		out, err := spliceSSHBlock(in, "")
		if err != nil || out != config {
			t.Fatalf("remove from %q: %q %v", in, out, err)
		}
	})
}

// TestSSHConfigRemoveWithoutABlockChangesNothing checks that knot
// ssh-config remove leaves a home without knot's block as it was: no
// ~/.ssh created, an existing config untouched, and it says so.
func TestSSHConfigRemoveWithoutABlockChangesNothing(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	code, out, errOut := runKnot(t, "ssh-config", "remove")
	if code != 0 {
		t.Fatalf("knot ssh-config remove: exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out, "no knot block") {
		t.Errorf("stdout = %q, want it to say there is no knot block", out)
	}
	if _, err := os.Stat(filepath.Join(home, ".ssh")); !os.IsNotExist(err) {
		t.Fatalf("~/.ssh after remove without a block: %v, want it absent", err)
	}

	cfg := filepath.Join(home, ".ssh", "config")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o700); err != nil {
		t.Fatal(err)
	}
	const mine = "Host work\n  HostName 127.0.0.1\n"
	if err := os.WriteFile(cfg, []byte(mine), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runKnot(t, "ssh-config", "remove"); code != 0 {
		t.Fatalf("knot ssh-config remove: exit %d, stderr %q", code, errOut)
	}
	st, err := os.Stat(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(cfg); string(got) != mine || st.Mode().Perm() != 0o644 {
		t.Errorf("config after remove = %q mode %v, want %q mode 0644 unchanged", got, st.Mode().Perm(), mine)
	}
}
