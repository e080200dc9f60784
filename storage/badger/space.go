package badger

import (
	"fmt"
	"syscall"
	"time"

	"github.com/knot-dev/knot/shared"
)

// A full disk. Badger maps its memtable logs, value logs and new tables
// into memory and writes them through the mapping: a page the file system
// cannot back raises SIGBUS, which ends the process, and it ends again at
// every start until space is freed. So the store keeps Options.MinFree
// free on its disk: Open refuses to start below it, every write checks it
// first (one statfs) and fails with ENOSPACE below it, Ping fails too (so
// /ready does), and Run looks every spaceInterval to log when the store
// crosses it. Reads go on. What Badger still writes below the watermark (a
// memtable flush, a compaction) fits in it: the memtables are 8 MiB.

// DefaultMinFree is Options.MinFree when it is 0.
const DefaultMinFree = 256 << 20

// spaceInterval is how often Run checks the free space.
const spaceInterval = 10 * time.Second

// freeSpace returns the bytes free to an unprivileged writer on the file
// system of dir.
func freeSpace(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// room fails with ENOSPACE when the store's disk has less than the
// watermark free. An error of statfs is not the disk's fault, and lets the
// write go on.
func (s *Store) room() error { return s.roomFor(0) }

// roomFor is room for a write of about need bytes, which must leave the
// watermark free: a big batch from an origin is written twice (journal.go),
// and more so in Badger's logs and tables.
func (s *Store) roomFor(need int64) error {
	if s.minFree <= 0 {
		return nil
	}
	free, err := freeSpace(s.path)
	if err != nil {
		return nil
	}
	low := free < s.minFree
	if s.low.Swap(low) != low {
		s.logSpace(low, free)
	}
	switch {
	case low:
		return shared.Errorf(shared.ENOSPACE, "the server's disk is nearly full: the store keeps %s free and %s is left; writes are refused until space is freed, reads go on", bytesText(s.minFree), bytesText(free))
	case free-need < s.minFree:
		return shared.Errorf(shared.ENOSPACE, "the server's disk has %s free: a write of about %s would leave less than the %s the store keeps free", bytesText(free), bytesText(need), bytesText(s.minFree))
	}
	return nil
}

// logSpace logs that the store crossed its watermark.
func (s *Store) logSpace(low bool, free int64) {
	if low {
		s.log.Warn("badger: the disk of the store is below the free space it keeps: writes fail with ENOSPACE until space is freed", "free", bytesText(free), "min_free", bytesText(s.minFree))
		return
	}
	s.log.Info("badger: the disk of the store has the free space it keeps again: writes go on", "free", bytesText(free), "min_free", bytesText(s.minFree))
}

// checkStartSpace fails when dir's disk is below minFree, before Open
// writes anything there.
func checkStartSpace(dir string, minFree int64) error {
	if minFree <= 0 {
		return nil
	}
	free, err := freeSpace(dir)
	if err != nil {
		return shared.Wrap(shared.EUNAVAILABLE, err, "badger: cannot read the free space of the store directory %q", dir)
	}
	if free < minFree {
		return shared.Errorf(shared.ENOSPACE, "badger: the disk of the store %q has %s free, less than the %s the store keeps free: free some space there, or lower the watermark", dir, bytesText(free), bytesText(minFree))
	}
	return nil
}

// bytesText writes n bytes for people: 12.5 MiB.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
