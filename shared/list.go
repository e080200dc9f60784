package shared

import (
	"cmp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// ListOptions selects, orders and pages the records a service's List
// returns. The zero value selects every record in the list's own order,
// as the List methods answered before they took options.
type ListOptions struct {
	// Query keeps the records one of whose names or descriptions holds it,
	// ignoring case; "" keeps all.
	Query string
	// Sort names the order: one of the list's sort keys (every list has
	// "name" and "created"), descending with a leading "-"; "" is the
	// list's own order.
	Sort string
	// Limit is the most records returned, 0 for all; Offset how many of
	// the selected records are skipped first.
	Limit, Offset int
	// State, Location and Owner keep the records in that state, at that
	// location (ignoring case) or owned by that user (an id or a username);
	// "" keeps all. Lists without such a field ignore them.
	State, Location, Owner string
}

// MaxListLimit is the largest page a List returns when asked for a limit.
const MaxListLimit = 1000

// MaxQuery is the longest query a List accepts, in bytes.
const MaxQuery = 256

// IsZero reports whether o selects every record in the list's own order.
func (o ListOptions) IsZero() bool { return o == ListOptions{} }

// Page is one page of a list: the records ListOptions selected, ordered and
// paged, and how many it selected before paging.
type Page[T any] struct {
	Items []T
	Total int
}

// Sorts maps the sort keys of a list to an ascending comparison.
type Sorts[T any] map[string]func(a, b T) int

// Check returns EINVALID naming the option that is out of range: a
// negative offset, a limit above MaxListLimit, a query over MaxQuery
// bytes, or a sort that is not one of sorts' keys.
func (o ListOptions) Check(sorts []string) error {
	if o.Offset < 0 {
		return Errorf(EINVALID, "offset must be 0 or more, not %d", o.Offset)
	}
	if o.Limit < 0 || o.Limit > MaxListLimit {
		return Errorf(EINVALID, "limit must be from 1 to %d (0 for all), not %d", MaxListLimit, o.Limit)
	}
	if len(o.Query) > MaxQuery || !utf8.ValidString(o.Query) {
		return Errorf(EINVALID, "q must be valid UTF-8 of at most %d bytes", MaxQuery)
	}
	if o.Sort == "" || slices.Contains(sorts, strings.TrimPrefix(o.Sort, "-")) {
		return nil
	}
	if len(sorts) == 0 {
		return Errorf(EINVALID, "sort is not offered by this list, which has one order")
	}
	return Errorf(EINVALID, "sort must be one of %s (with - before it to reverse), not %s", strings.Join(sorts, ", "), Quote(o.Sort))
}

// Match reports whether one of texts holds the query, ignoring case; every
// text matches an empty query.
func (o ListOptions) Match(texts ...string) bool {
	if o.Query == "" {
		return true
	}
	for _, t := range texts {
		if ContainsFold(t, o.Query) {
			return true
		}
	}
	return false
}

// ContainsFold reports whether s holds sub, ignoring case.
func ContainsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	if !isASCII(s) || !isASCII(sub) {
		return strings.Contains(s, sub) || strings.Contains(strings.ToLower(s), strings.ToLower(sub))
	}
	first := lowerASCII(sub[0])
	for i := 0; i+len(sub) <= len(s); i++ {
		if lowerASCII(s[i]) == first && strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Select returns the page o selects of items: those keep keeps (nil keeps
// all), in the order o.Sort names (a stable sort, so ties keep the list's
// own order), from o.Offset, at most o.Limit of them. items is not
// modified; with zero options it is returned as it is. EINVALID as Check.
func Select[T any](items []T, o ListOptions, keep func(T) bool, sorts Sorts[T]) (Page[T], error) {
	if err := o.Check(sortKeys(sorts)); err != nil {
		return Page[T]{}, err
	}
	if keep == nil && o.Sort == "" && o.Offset == 0 && o.Limit == 0 {
		return Page[T]{Items: items, Total: len(items)}, nil
	}
	out := make([]T, 0, len(items))
	for _, it := range items {
		if keep == nil || keep(it) {
			out = append(out, it)
		}
	}
	if o.Sort != "" {
		SortBy(out, o.Sort, sorts)
	}
	total := len(out)
	out = out[min(o.Offset, total):]
	if o.Limit > 0 && len(out) > o.Limit {
		out = out[:o.Limit]
	}
	return Page[T]{Items: slices.Clip(out), Total: total}, nil
}

// SortBy sorts items in place by key, a key of sorts, descending with a
// leading "-"; ties keep their order.
func SortBy[T any](items []T, key string, sorts Sorts[T]) {
	by := sorts[strings.TrimPrefix(key, "-")]
	if strings.HasPrefix(key, "-") {
		asc := by
		by = func(a, b T) int { return asc(b, a) }
	}
	type at struct {
		v T
		i int
	}
	tmp := make([]at, len(items))
	for i, v := range items {
		tmp[i] = at{v, i}
	}
	slices.SortFunc(tmp, func(a, b at) int { return cmp.Or(by(a.v, b.v), a.i-b.i) })
	for i := range tmp {
		items[i] = tmp[i].v
	}
}

func sortKeys[T any](sorts Sorts[T]) []string {
	keys := make([]string, 0, len(sorts))
	for k := range sorts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ByText compares two texts ignoring case (rune by rune, lower-cased),
// then as they are.
func ByText(a, b string) int {
	x, y := a, b
	for x != "" && y != "" {
		if cx, cy := x[0], y[0]; cx < utf8.RuneSelf && cy < utf8.RuneSelf {
			if c := cmp.Compare(lowerASCII(cx), lowerASCII(cy)); c != 0 {
				return c
			}
			x, y = x[1:], y[1:]
			continue
		}
		rx, wx := utf8.DecodeRuneInString(x)
		ry, wy := utf8.DecodeRuneInString(y)
		if c := cmp.Compare(unicode.ToLower(rx), unicode.ToLower(ry)); c != 0 {
			return c
		}
		x, y = x[wx:], y[wy:]
	}
	return cmp.Or(cmp.Compare(len(x), len(y)), cmp.Compare(a, b))
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// ByTime compares two times.
func ByTime(a, b time.Time) int { return a.Compare(b) }

// NameSorts returns the sort keys every list has: "name" and "created".
func NameSorts[T any](name func(T) string, created func(T) time.Time) Sorts[T] {
	return Sorts[T]{
		"name":    func(a, b T) int { return ByText(name(a), name(b)) },
		"created": func(a, b T) int { return ByTime(created(a), created(b)) },
	}
}

// Orders keeps sorted copies of one version of a list, by key, so that a
// list read often in one order is sorted once per change, not once per
// page. The zero value is ready for use; it is safe for concurrent use.
type Orders[T any] struct {
	mu      sync.Mutex
	version any            // guarded by mu: the list the copies are of
	sorted  map[string][]T // guarded by mu
}

// Get returns the copy of version in the order key names, which build
// makes once per version and key (under the lock). A new version drops the
// copies of the one before. The result is shared: callers must not modify
// it.
func (c *Orders[T]) Get(version any, key string, build func() []T) []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version {
		c.version, c.sorted = version, map[string][]T{}
	}
	if s, ok := c.sorted[key]; ok {
		return s
	}
	s := build()
	c.sorted[key] = s
	return s
}
