package redis

import "github.com/knot-dev/knot/shared"

// keyNames names the keys of one store; see the package doc.
type keyNames struct {
	prefix                   string
	meta, feed, tombs, audit string
	rec, claimed, uniq       map[shared.Kind]string
	all                      []string // meta, feed, tombs, then rec, claimed and uniq of each of shared.Kinds
	recs                     []string // feed, tombs, then rec of each of shared.Kinds
	kindNames                []any    // shared.Kinds as script arguments
}

func newKeys(prefix string) keyNames {
	p := "{" + prefix + "}:"
	k := keyNames{
		prefix: prefix,
		meta:   p + "meta", feed: p + "feed", tombs: p + "tombs", audit: p + "audit",
		rec: map[shared.Kind]string{}, claimed: map[shared.Kind]string{}, uniq: map[shared.Kind]string{},
	}
	k.all = []string{k.meta, k.feed, k.tombs}
	k.recs = []string{k.feed, k.tombs}
	for _, kind := range shared.Kinds {
		k.rec[kind], k.claimed[kind], k.uniq[kind] = p+"rec:"+string(kind), p+"keys:"+string(kind), p+"uniq:"+string(kind)
		k.all = append(k.all, k.rec[kind], k.claimed[kind], k.uniq[kind])
		k.recs = append(k.recs, k.rec[kind])
		k.kindNames = append(k.kindNames, string(kind))
	}
	return k
}

// ofKind returns the keys a write of one record of kind touches.
func (k keyNames) ofKind(kind shared.Kind) []string {
	return []string{k.meta, k.feed, k.tombs, k.rec[kind], k.claimed[kind], k.uniq[kind]}
}

// member names a record in the feed.
func member(kind shared.Kind, id string) string { return string(kind) + "/" + id }
