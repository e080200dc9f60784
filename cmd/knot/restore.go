package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
)

// maxBackupBytes bounds the replica backup restore-replica reads.
const maxBackupBytes = 1 << 30

func restoreReplicaCommand(flags []cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "restore-replica",
		Usage:     "Write the records of a leaf's replica backup back into this origin's store",
		ArgsUsage: "FILE",
		Description: "A leaf that gets a snapshot of a new epoch (its origin's store was made anew) first writes\n" +
			"its replica to knot-replica-EPOCH-TIME.json. With the origin stopped, this command puts the\n" +
			"users, groups, roles, API tokens, templates and variables of FILE into the origin's store,\n" +
			"as new records; one whose id or unique name the store holds already is left out and listed.\n" +
			"Spaces are not restored: each leaf reports its own.",
		Flags:  flags,
		Action: restoreReplica,
	}
}

// restoreReplica is the action of knot admin restore-replica FILE.
func restoreReplica(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef(c, "give one FILE, a knot-replica-*.json a leaf wrote")
	}
	path := c.Args().First()
	b, err := readReplicaBackup(path)
	if err != nil {
		return err
	}
	cfg, logger, st, err := openOriginStore(c, "restore the replica on its origin, whose store the leaves replicate")
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := c.Context

	restored := map[shared.Kind]int{}
	var skipped []string
	for _, ch := range b.Records {
		if !ch.Kind.OriginOwned() || ch.Deleted {
			continue
		}
		rec := shared.NewRecord(ch.Kind)
		if err := json.Unmarshal(ch.Data, rec); err != nil || rec.RecordID() != ch.ID {
			return fmt.Errorf("%s: %s %s does not hold a valid record", path, ch.Kind, ch.ID)
		}
		rec.SetRevision(0)
		err := st.Put(ctx, rec)
		switch shared.ErrorCode(err) {
		case "":
			restored[ch.Kind]++
		case shared.ECONFLICT:
			skipped = append(skipped, fmt.Sprintf("%s %s: %s", ch.Kind, ch.ID, shared.ErrorMessage(err)))
		default:
			return fmt.Errorf("restore %s %s: %w", ch.Kind, ch.ID, err)
		}
	}
	var counts []string
	total := 0
	for k, n := range restored {
		counts = append(counts, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(counts)
	ev := &shared.AuditEvent{
		At: time.Now().UTC(), Actor: "knot admin", ActorType: "cli", Event: "replica.restored",
		Details:  fmt.Sprintf("%d records restored from the replica of epoch %s that leaf location %s kept", total, b.Epoch, b.Location),
		Location: cfg.Server.Location, Properties: map[string]string{"file": path, "epoch": b.Epoch},
	}
	if err := st.AppendAudit(ctx, ev); err != nil {
		logger.Warn("audit event not written", "event", ev.Event, "error", err)
	}
	w := c.App.Writer
	summary := "none"
	if len(counts) > 0 {
		summary = strings.Join(counts, ", ")
	}
	fmt.Fprintf(w, "Restored %d records from the replica of epoch %s (location %s, revision %d): %s.\n",
		total, b.Epoch, b.Location, b.AppliedRevision, summary)
	if len(skipped) > 0 {
		fmt.Fprintf(w, "Left out %d that the store holds already:\n  %s\n", len(skipped), strings.Join(skipped, "\n  "))
	}
	return nil
}

// readReplicaBackup reads and checks a replica backup.
func readReplicaBackup(path string) (*leaf.ReplicaBackup, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBackupBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxBackupBytes {
		return nil, fmt.Errorf("%s holds more than %d bytes: it is no replica backup", path, maxBackupBytes)
	}
	var b leaf.ReplicaBackup
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%s is no replica backup: %v", path, err)
	}
	if b.Format != leaf.ReplicaBackupFormat {
		return nil, fmt.Errorf("%s is no replica backup of format %d (knot_replica_backup is %d)", path, leaf.ReplicaBackupFormat, b.Format)
	}
	return &b, nil
}
