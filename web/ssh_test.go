package web_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// pubKey returns a new public key as a line of a .pub file with comment.
func pubKey(t *testing.T, comment string) (string, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " " + comment, ssh.FingerprintSHA256(k)
}

func TestSSHKeysOfAProfile(t *testing.T) {
	e := newEnv(t)
	_, adminToken := e.admin()
	ann, annToken := e.user("ann")
	bob, bobToken := e.user("bob")
	keys := "/api/users/" + ann.ID + "/ssh-keys"

	line, fp := pubKey(t, "ann@laptop")
	var added api.SSHKey
	e.must(http.StatusCreated, "POST", keys, annToken, api.SSHKeyAddRequest{Key: line + "\n"}).decode(t, &added)
	if added.Fingerprint != fp || added.Name != "ann@laptop" || added.ID == "" || !strings.HasPrefix(added.Key, "ssh-ed25519 ") {
		t.Fatalf("added %+v, want fingerprint %s named by its comment", added, fp)
	}
	// A fingerprint with a /, which the client escapes in the path.
	line2, fp2 := pubKey(t, "")
	for !strings.Contains(fp2, "/") {
		line2, fp2 = pubKey(t, "")
	}
	e.must(http.StatusCreated, "POST", keys, adminToken, api.SSHKeyAddRequest{Name: "desktop", Key: line2})
	var list api.SSHKeyList
	e.must(http.StatusOK, "GET", keys, annToken, nil).decode(t, &list)
	if len(list.Keys) != 2 || list.Keys[1].Name != "desktop" || list.Keys[1].Fingerprint != fp2 {
		t.Fatalf("list %+v", list)
	}
	u, err := getRecord[shared.User](e, ann.ID)
	if err != nil || len(u.SSHKeys) != 2 {
		t.Fatalf("the user record holds %v (%v)", u, err)
	}

	for name, c := range map[string]struct {
		token string
		body  any
		code  int
		msg   string
	}{
		"the same key again": {annToken, api.SSHKeyAddRequest{Key: line}, http.StatusConflict, "already has the key"},
		"a private key":      {annToken, api.SSHKeyAddRequest{Key: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----"}, http.StatusBadRequest, "private key"},
		"not a key":          {annToken, api.SSHKeyAddRequest{Key: "hello"}, http.StatusBadRequest, "not an SSH public key"},
		"an empty key":       {annToken, api.SSHKeyAddRequest{}, http.StatusBadRequest, "empty"},
		"two keys at once":   {annToken, api.SSHKeyAddRequest{Key: line + "\n" + line2}, http.StatusBadRequest, "one key at a time"},
		"another user":       {bobToken, api.SSHKeyAddRequest{Key: line}, http.StatusForbidden, "Manage Users"},
	} {
		r := e.do("POST", keys, c.token, c.body)
		if r.code != c.code || !strings.Contains(r.errMsg(t), c.msg) {
			t.Errorf("%s: %d %s, want %d and %q", name, r.code, r.body, c.code, c.msg)
		}
	}
	e.must(http.StatusForbidden, "GET", keys, bobToken, nil)
	e.must(http.StatusForbidden, "DELETE", keys+"/"+added.ID, bobToken, nil)

	e.must(http.StatusOK, "DELETE", keys+"/"+added.ID, annToken, nil)
	e.must(http.StatusOK, "DELETE", keys+"/"+url.PathEscape(fp2), annToken, nil)
	if r := e.do("DELETE", keys+"/"+added.ID, annToken, nil); r.code != http.StatusNotFound {
		t.Fatalf("a removed key removed again: %d %s", r.code, r.body)
	}
	e.must(http.StatusOK, "GET", keys, annToken, nil).decode(t, &list)
	if len(list.Keys) != 0 {
		t.Fatalf("keys left: %+v", list)
	}
	if !e.hasAudit("SSH Key Add", fp) || !e.hasAudit("SSH Key Remove", fp2) {
		t.Fatal("adding and removing keys is not audited")
	}
	_ = bob
}

func TestSSHKeysAreBounded(t *testing.T) {
	e := newEnv(t)
	ann, annToken := e.user("ann")
	keys := "/api/users/" + ann.ID + "/ssh-keys"
	for range 32 {
		line, _ := pubKey(t, "k")
		e.must(http.StatusCreated, "POST", keys, annToken, api.SSHKeyAddRequest{Key: line})
	}
	line, _ := pubKey(t, "k")
	if r := e.do("POST", keys, annToken, api.SSHKeyAddRequest{Key: line}); r.code != http.StatusBadRequest || !strings.Contains(r.errMsg(t), "remove one first") {
		t.Fatalf("a 33rd key: %d %s", r.code, r.body)
	}
}

func TestSpaceSSHHostKeyAndWhoMayConnect(t *testing.T) {
	e := newEnv(t)
	ann, annToken := e.user("ann")
	_, bobToken := e.user("bob")
	tpl := e.template("manual")
	var created api.SpaceCreated
	e.must(http.StatusCreated, "POST", "/api/spaces", annToken, map[string]any{"name": "work", "template_id": tpl.ID}).decode(t, &created)

	var sp api.Space
	e.must(http.StatusOK, "GET", "/api/spaces/"+created.SpaceID, annToken, nil).decode(t, &sp)
	if !strings.HasPrefix(sp.SSHHostKey, "ssh-ed25519 ") {
		t.Fatalf("the space's host key: %q", sp.SSHHostKey)
	}
	for _, path := range []string{"/api/spaces/" + created.SpaceID, "/api/spaces"} {
		if r := e.must(http.StatusOK, "GET", path, annToken, nil); strings.Contains(r.String(), "PRIVATE KEY") {
			t.Fatalf("GET %s shows the private host key", path)
		}
	}
	rec, err := getRecord[shared.Space](e, created.SpaceID)
	if err != nil || !strings.Contains(rec.SSHHostKey, "PRIVATE KEY") || rec.SSHHostPublic != sp.SSHHostKey {
		t.Fatalf("the stored host key: %v %v", rec, err)
	}

	// A space made before host keys gets one on first use, and keeps it.
	old := e.space(ann, tpl, "older")
	var info api.SpaceSSH
	e.must(http.StatusOK, "GET", "/api/spaces/"+old.ID+"/ssh", annToken, nil).decode(t, &info)
	var again api.SpaceSSH
	e.must(http.StatusOK, "GET", "/api/spaces/"+old.ID+"/ssh", annToken, nil).decode(t, &again)
	if !strings.HasPrefix(info.HostKey, "ssh-ed25519 ") || again.HostKey != info.HostKey || info.Host != "knot.older" {
		t.Fatalf("host key on first use %+v, then %+v", info, again)
	}

	// Someone else's space does not exist for them, and a try to connect
	// is audited.
	if r := e.do("GET", "/api/spaces/"+created.SpaceID+"/ssh", bobToken, nil); r.code != http.StatusNotFound {
		t.Fatalf("bob: %d %s", r.code, r.body)
	}
	upgrade := map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	if r := e.send(req{method: "GET", path: "/api/spaces/" + created.SpaceID + "/ssh", token: bobToken, header: upgrade}); r.code != http.StatusNotFound {
		t.Fatalf("bob's websocket: %d %s", r.code, r.body)
	}
	if !e.hasAudit("ssh refused", "not its owner") {
		t.Fatal("the refusal is not audited")
	}
	// A server without an agent endpoint says so.
	r := e.send(req{method: "GET", path: "/api/spaces/" + created.SpaceID + "/ssh", token: annToken, header: upgrade})
	if r.code != http.StatusServiceUnavailable || !strings.Contains(r.errMsg(t), "no SSH") {
		t.Fatalf("ann without agents: %d %s", r.code, r.body)
	}
}
