package web

import (
	"context"
	"encoding/json"
	"hash/maphash"
	"net/http"
	"net/url"
	"strconv"

	"github.com/knot-dev/knot/shared"
)

// listOptions reads the query parameters every list route takes: q, sort,
// limit, offset, and the filters state, location and owner. A list without
// a filter ignores it; the service checks the sort and the ranges.
func listOptions(q url.Values) (shared.ListOptions, error) {
	o := shared.ListOptions{Query: q.Get("q"), Sort: q.Get("sort"), State: q.Get("state"),
		Location: q.Get("location"), Owner: q.Get("owner")}
	var err error
	if o.Limit, err = intParam(q.Get("limit"), "limit", 0, 0, shared.MaxListLimit); err != nil {
		return o, err
	}
	o.Offset, err = intParam(q.Get("offset"), "offset", 0, 0, 1<<31)
	return o, err
}

// etagSeed seeds the hash of list ETags: a tag names a body for the life of
// the process (a restart costs a client one full answer).
var etagSeed = maphash.MakeSeed()

// writeTagged writes the list response body with an ETag naming its bytes,
// or 304 Not Modified without a body when the request's If-None-Match
// names them already: a page that polls a list transfers it only when it
// changed.
func writeTagged(w http.ResponseWriter, r *http.Request, body []byte) {
	tag := `"` + strconv.FormatUint(maphash.Bytes(etagSeed, body), 36) + `"`
	w.Header().Set("ETag", tag)
	if r.Header.Get("If-None-Match") == tag {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeRaw(w, http.StatusOK, body)
}

// writeTaggedJSON writes the list v as writeTagged does.
func writeTaggedJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeJSON(w, http.StatusOK, v) // answers its last resort
		return
	}
	writeTagged(w, r, append(b, '\n'))
}

// listPage calls list with the list options of r.
func listPage[T any](r *http.Request, list func(context.Context, shared.ListOptions) (shared.Page[T], error)) (shared.Page[T], error) {
	o, err := listOptions(r.URL.Query())
	if err != nil {
		return shared.Page[T]{}, err
	}
	return list(r.Context(), o)
}
