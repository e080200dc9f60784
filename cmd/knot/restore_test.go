package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// The copy of its replica that a leaf kept when its origin's store was made
// anew goes back into the origin's store with knot admin restore-replica:
// its users log in again. What the store holds already is left out.
func TestAdminRestoreReplicaBringsBackTheOriginsRecords(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "badger")
	hash, err := crypt.HashPassword("a-long-password")
	if err != nil {
		t.Fatal(err)
	}
	change := func(rec shared.Record) shared.Change {
		data, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		return shared.Change{Kind: rec.RecordKind(), ID: rec.RecordID(), Revision: rec.GetRevision(), Data: data}
	}
	admin := &shared.User{Meta: shared.Meta{ID: "u-admin", Revision: 3}, Username: "admin", Email: "admin@example.com", Active: true,
		PasswordHash: hash, Roles: []string{shared.AdminRoleID}}
	tmpl := &shared.Template{Meta: shared.Meta{ID: "t-byo", Revision: 4}, Name: "byo", Kind: shared.TemplateManual}
	space := &shared.Space{Meta: shared.Meta{ID: "s-1", Revision: 5}, UserID: "u-admin", Name: "dev", Location: "other"}
	b := leaf.ReplicaBackup{Format: leaf.ReplicaBackupFormat, Location: "eu", Epoch: "old-epoch", AppliedRevision: 5, ReplacedBy: "new-epoch",
		SavedAt: time.Now().UTC(), Records: []shared.Change{change(admin), change(tmpl), change(space)}}
	data, _ := json.Marshal(&b)
	file := filepath.Join(dir, "knot-replica-old-epoch-20260301T120000Z.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}

	r := knotIn(t, dir, nil, "", "admin", "restore-replica", "--badgerdb-path", store, file)
	if r.code != 0 || !strings.Contains(r.stdout, "Restored 2 records from the replica of epoch old-epoch") {
		t.Fatalf("restore-replica: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = knotIn(t, dir, nil, "", "admin", "restore-replica", "--badgerdb-path", store, file)
	if r.code != 0 || !strings.Contains(r.stdout, "Restored 0 records") || !strings.Contains(r.stdout, "Left out 2") {
		t.Fatalf("a second restore-replica: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}

	s := runKnotServer(t, dir, "--listen", "127.0.0.1:0", "--badgerdb-path", store)
	token := s.login()
	var list struct {
		Templates []struct {
			Name string `json:"name"`
		} `json:"templates"`
	}
	s.call("GET", "/api/templates", token, nil, 200, &list)
	if len(list.Templates) != 1 || list.Templates[0].Name != "byo" {
		t.Fatalf("templates after the restore: %+v", list.Templates)
	}
	// The restored admin ends first-user setup.
	s.call("POST", "/api/users", "", map[string]string{"username": "eve", "email": "eve@example.com", "password": "a-long-password"}, 401, nil)
	s.stop()

	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"records":[]}`), 0o600)
	if r := knotIn(t, dir, nil, "", "admin", "restore-replica", "--badgerdb-path", store, bad); r.code == 0 || !strings.Contains(r.stderr, "no replica backup") {
		t.Fatalf("restore-replica of a file that is no backup: exit %d: %s", r.code, r.stderr)
	}
}
