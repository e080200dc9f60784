package web

import (
	"context"
	"encoding/json"
	"hash/maphash"
	"net/http"
	"strconv"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// listOptions reads the query parameters every list route takes
// (api.ListQuery).
var listOptions = api.ListQuery

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

// listed is the apiFunc that answers with the list fn returns, tagged
// (writeTaggedJSON).
func listed[Resp any](fn func(*http.Request, *principal) (Resp, error)) apiFunc {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		out, err := fn(r, p)
		if err != nil {
			return err
		}
		writeTaggedJSON(w, r, out)
		return nil
	}
}

func listPage[T any](r *http.Request, list func(context.Context, shared.ListOptions) (shared.Page[T], error)) (shared.Page[T], error) {
	o, err := listOptions(r.URL.Query())
	if err != nil {
		return shared.Page[T]{}, err
	}
	return list(r.Context(), o)
}
