package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/sshkey"
	"github.com/knot-dev/knot/shared/testenv"
)

// keygen makes a key pair with OpenSSH's ssh-keygen in a temporary
// directory and returns its public key line and the fingerprint
// ssh-keygen -l prints for it.
func keygen(t *testing.T, typ, comment string) (line, fingerprint string) {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		testenv.Missing(t, "ssh-keygen", err)
	}
	file := filepath.Join(t.TempDir(), "id")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", typ, "-N", "", "-C", comment, "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -t %s: %v %s", typ, err, out)
	}
	pub, err := os.ReadFile(file + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", file+".pub").Output()
	if err != nil {
		t.Fatalf("ssh-keygen -l: %v", err)
	}
	return strings.TrimSpace(string(pub)), strings.Fields(string(out))[1]
}

// TestSSHKeysListTheOlderFieldWithFingerprints: the list of a user's SSH
// keys carries the lines of the older ssh_public_key field too, each with
// the fingerprint ssh-keygen prints, or why it is not a key; the keys of
// the list are as they were; a DELETE of an older field's key says where
// it is and changes nothing.
func TestSSHKeysListTheOlderFieldWithFingerprints(t *testing.T) {
	e := newEnv(t)
	ann, annToken := e.user("ann")
	keys := "/api/users/" + ann.ID + "/ssh-keys"

	laptop, laptopFP := keygen(t, "ed25519", "ann@laptop")
	desktop, desktopFP := keygen(t, "ecdsa", "ann@desktop")
	old, oldFP := keygen(t, "ed25519", "ann@old")
	e.must(http.StatusCreated, "POST", keys, annToken, api.SSHKeyAddRequest{Key: laptop})
	e.must(http.StatusCreated, "POST", keys, annToken, api.SSHKeyAddRequest{Key: desktop})
	field := old + "\n\nssh-ed25519 not*base64 ann@broken\n"
	e.must(http.StatusOK, "PUT", "/api/users/"+ann.ID, annToken, map[string]any{"ssh_public_key": field})

	r := e.must(http.StatusOK, "GET", keys, annToken, nil)
	var list api.SSHKeyList
	r.decode(t, &list)
	if len(list.Keys) != 2 || list.Keys[0].Fingerprint != laptopFP || list.Keys[1].Fingerprint != desktopFP ||
		list.Keys[0].Name != "ann@laptop" || list.Keys[0].ID == "" {
		t.Fatalf("the key list is %+v, want ann@laptop %s and ann@desktop %s", list.Keys, laptopFP, desktopFP)
	}
	parsed, err := sshkey.Parse(old)
	if err != nil || parsed.Fingerprint != oldFP {
		t.Fatalf("shared/sshkey reads %s as %+v (%v), ssh-keygen as %s", old, parsed, err, oldFP)
	}
	want := []api.SSHLegacyKey{
		{Line: 1, Text: old, Type: "ssh-ed25519", Fingerprint: oldFP, Comment: "ann@old"},
		{Line: 3, Text: "ssh-ed25519 not*base64 ann@broken", Error: "not a valid public key: the text after ssh-ed25519 is not base64"},
	}
	if len(list.LegacyKeys) != len(want) || list.LegacyKeys[0] != want[0] || list.LegacyKeys[1] != want[1] {
		t.Fatalf("the older field's keys are\n%+v\nwant\n%+v", list.LegacyKeys, want)
	}
	// The keys of the list keep their fields, and gain none.
	var raw struct{ Keys []map[string]any }
	if err := json.Unmarshal(r.body, &raw); err != nil || len(raw.Keys) != 2 || len(raw.Keys[0]) != 5 {
		t.Fatalf("the list's keys are %s (%v)", r.body, err)
	}
	for _, f := range []string{"key_id", "name", "key", "fingerprint", "added_at"} {
		if _, ok := raw.Keys[0][f]; !ok {
			t.Errorf("a key of the list lacks %s: %v", f, raw.Keys[0])
		}
	}

	// An older field's key is not removed by its fingerprint: the answer
	// says where it is, and the field stays.
	del := e.do("DELETE", keys+"/"+url.PathEscape(oldFP), annToken, nil)
	if msg := del.errMsg(t); del.code != http.StatusNotFound || !strings.Contains(msg, "older ssh_public_key field") || !strings.Contains(msg, "line 1") {
		t.Fatalf("DELETE of the older field's key: %d %s", del.code, del.body)
	}
	e.must(http.StatusOK, "GET", keys, annToken, nil).decode(t, &list)
	if len(list.LegacyKeys) != 2 || len(list.Keys) != 2 {
		t.Fatalf("after a refused DELETE the keys are %+v", list)
	}
	// Taking its line out of the field removes it.
	e.must(http.StatusOK, "PUT", "/api/users/"+ann.ID, annToken, map[string]any{"ssh_public_key": ""})
	e.must(http.StatusOK, "GET", keys, annToken, nil).decode(t, &list)
	if len(list.LegacyKeys) != 0 || len(list.Keys) != 2 {
		t.Fatalf("with the field emptied the keys are %+v", list)
	}
}
