package leaf

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/knot-dev/knot/shared"
)

// A new epoch. The origin names its store by an epoch; a leaf whose replica
// is of another epoch gets a snapshot that replaces the replica, dropping
// every replicated record the snapshot does not hold. That happens when the
// origin's store was made anew (a lost volume, a wrong path), and then the
// leaf's replica may be the best copy left of the origin's users, tokens
// and templates. So before such a snapshot is applied the leaf writes its
// replica to a file in Options.BackupDir, and applies nothing when it
// cannot; it logs the change at WARN and shows it in its Status. The origin
// logs and shows it in its fleet view too. `knot admin restore-replica
// FILE` writes the records of such a file back into a stopped origin's
// store.

// ReplicaBackupFormat is the format version of a replica backup.
const ReplicaBackupFormat = 1

// ReplicaBackup is the file a leaf writes before a snapshot of a new epoch
// replaces its replica: every replicated record it held, as the origin sent
// it.
type ReplicaBackup struct {
	Format          int             `json:"knot_replica_backup"`
	Location        string          `json:"location"`
	Epoch           string          `json:"epoch"`
	AppliedRevision int64           `json:"applied_revision"`
	ReplacedBy      string          `json:"replaced_by_epoch"`
	SavedAt         time.Time       `json:"saved_at"`
	Records         []shared.Change `json:"records"`
}

// backupName is the file name of the backup of a replica of epoch, saved
// at t.
func backupName(epoch string, t time.Time) string {
	return fmt.Sprintf("knot-replica-%s-%s.json", epoch, t.UTC().Format("20060102T150405Z"))
}

// backupReplica writes the replicated records of the leaf's store, which a
// snapshot of epoch next is about to replace, to a new file in BackupDir,
// and returns its path.
func (s *session) backupReplica(ctx context.Context, next string) (string, error) {
	u := s.u
	b := ReplicaBackup{Format: ReplicaBackupFormat, Location: s.location, Epoch: s.epoch, AppliedRevision: s.applied, ReplacedBy: next, SavedAt: u.now().UTC(), Records: []shared.Change{}}
	for _, k := range shared.Kinds {
		if !k.Replicated() {
			continue
		}
		cs, err := u.opts.Store.List(ctx, k)
		if err != nil {
			return "", err
		}
		for _, c := range cs {
			if s.replicated(c) {
				b.Records = append(b.Records, c)
			}
		}
	}
	data, err := json.MarshalIndent(&b, "", " ")
	if err != nil {
		return "", err
	}
	dir := u.opts.BackupDir
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, backupName(s.epoch, b.SavedAt))
	return path, writeFileSynced(path, append(data, '\n'))
}

// writeFileSynced writes data to a new file at path, readable by its owner
// alone (it holds password hashes), and syncs it and its directory before
// it returns.
func writeFileSynced(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
