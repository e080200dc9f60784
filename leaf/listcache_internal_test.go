package leaf

import (
	"bytes"
	"testing"

	"github.com/knot-dev/knot/shared"
)

// The list cache reuses a space's encoding across store changes while its
// records stay the same, and drops the encoding of a space no view has
// shown for two versions, so deleted spaces do not pile up in it.
func TestSpaceListCacheReusesAndForgets(t *testing.T) {
	a := &shared.Space{Meta: shared.Meta{ID: "a", Revision: 1}, Name: "a"}
	b := &shared.Space{Meta: shared.Meta{ID: "b", Revision: 1}, Name: "b"}
	list := func(version string, spaces ...*shared.Space) *shared.SpaceList {
		return &shared.SpaceList{Version: version, Spaces: spaces, Total: len(spaces)}
	}
	c := NewSpaceListCache()
	v1, err := c.View(list("1", a, b), "all")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := c.View(list("2", a), "all")
	if err != nil {
		t.Fatal(err)
	}
	if &v1.frags["a"][0] != &v2.frags["a"][0] {
		t.Error("space a, unchanged, was encoded again after a store change")
	}
	if !bytes.Contains(v2.Body(nil, nil), []byte(`"space_id":"a"`)) {
		t.Errorf("the list of version 2 does not show space a: %s", v2.Body(nil, nil))
	}
	if _, err := c.View(list("3", a), "all"); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.frags["b"]; ok {
		t.Error("the cache still holds space b, gone two versions ago")
	}
	if _, ok := c.old["b"]; ok {
		t.Error("the cache still holds space b, gone two versions ago, among the old encodings")
	}
}
