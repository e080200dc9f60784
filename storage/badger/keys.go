package badger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bdb "github.com/dgraph-io/badger/v4"

	"github.com/knot-dev/knot/shared"
)

var (
	keyFormat   = []byte("meta/format")
	keyEpoch    = []byte("meta/epoch")
	keyRevision = []byte("meta/revision")
	keyHorizon  = []byte("meta/horizon")
	keyReplica  = []byte("meta/replica")
	keyAuditSeq = []byte("meta/audit")

	prefixFeed  = []byte("feed/")
	prefixAudit = []byte("audit/")
)

func recPrefix(kind shared.Kind) []byte { return []byte("rec/" + string(kind) + "/") }
func recKey(kind shared.Kind, id string) []byte {
	return []byte("rec/" + string(kind) + "/" + id)
}
func uniqKey(kind shared.Kind, key string) []byte {
	return []byte("uniq/" + string(kind) + "/" + key)
}
func tombKey(kind shared.Kind, id string) []byte {
	return []byte("tomb/" + string(kind) + "/" + id)
}
func feedKey(rev int64) []byte { return fmt.Appendf(nil, "feed/%020d", rev) }
func auditKey(id int64) []byte { return fmt.Appendf(nil, "audit/%020d", id) }
func encodeInt(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }
func decodeInt(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("a number of %d bytes", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// getBytes returns a copy of the value of key; bdb.ErrKeyNotFound when there
// is none.
func getBytes(txn *bdb.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// getInt returns the number at key, 0 when there is none.
func getInt(txn *bdb.Txn, key []byte) (int64, error) {
	b, err := getBytes(txn, key)
	if errors.Is(err, bdb.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := decodeInt(b)
	if err != nil {
		return 0, fmt.Errorf("%s holds %w", key, err)
	}
	return n, nil
}

// entry is a stored record.
type entry struct {
	rev  int64    // the record's revision
	feed int64    // the revision of its entry in the store's own feed, 0 if none
	keys []string // the unique keys it claimed
	data []byte   // its JSON
}

const entryFormat = 1

func (e entry) encode() []byte {
	n := 1 + 3*binary.MaxVarintLen64 + len(e.data)
	for _, k := range e.keys {
		n += binary.MaxVarintLen64 + len(k)
	}
	b := make([]byte, 0, n)
	b = append(b, entryFormat)
	b = binary.AppendVarint(b, e.rev)
	b = binary.AppendVarint(b, e.feed)
	b = binary.AppendUvarint(b, uint64(len(e.keys)))
	for _, k := range e.keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	return append(b, e.data...)
}

var errCorrupt = errors.New("corrupt record value")

// decodeEntry parses a record value; data keeps pointing into b.
func decodeEntry(b []byte) (entry, error) {
	var e entry
	if len(b) == 0 || b[0] != entryFormat {
		return e, errCorrupt
	}
	b = b[1:]
	var n int
	if e.rev, n = binary.Varint(b); n <= 0 {
		return e, errCorrupt
	}
	b = b[n:]
	if e.feed, n = binary.Varint(b); n <= 0 {
		return e, errCorrupt
	}
	b = b[n:]
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return e, errCorrupt
	}
	b = b[n:]
	e.keys = make([]string, 0, count)
	for range count {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return e, errCorrupt
		}
		e.keys = append(e.keys, string(b[n:n+int(l)]))
		b = b[n+int(l):]
	}
	e.data = b
	return e, nil
}

// getEntry returns the stored record of kind with id; ok is false when there
// is none.
func getEntry(txn *bdb.Txn, kind shared.Kind, id string) (e entry, ok bool, err error) {
	b, err := getBytes(txn, recKey(kind, id))
	if errors.Is(err, bdb.ErrKeyNotFound) {
		return e, false, nil
	}
	if err != nil {
		return e, false, err
	}
	e, err = decodeEntry(b)
	if err != nil {
		return e, false, fmt.Errorf("%s %s: %w", kind, id, err)
	}
	return e, true, nil
}

// feedValue is the value of a feed key.
func feedValue(kind shared.Kind, id string, deleted bool) []byte {
	flag := byte('r')
	if deleted {
		flag = 't'
	}
	b := make([]byte, 0, 2+len(kind)+len(id))
	b = append(b, flag)
	b = append(b, kind...)
	b = append(b, 0)
	return append(b, id...)
}

func parseFeedValue(b []byte) (kind shared.Kind, id string, deleted bool, err error) {
	if len(b) < 2 || (b[0] != 'r' && b[0] != 't') {
		return "", "", false, errors.New("corrupt feed entry")
	}
	k, rest, ok := bytes.Cut(b[1:], []byte{0})
	if !ok {
		return "", "", false, errors.New("corrupt feed entry")
	}
	return shared.Kind(k), string(rest), b[0] == 't', nil
}
