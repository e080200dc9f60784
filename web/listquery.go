package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"

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

// writeTagged writes the list response body with an ETag naming its bytes,
// or 304 Not Modified without a body when the request's If-None-Match
// names them already: a page that polls a list transfers it only when it
// changed.
func writeTagged(w http.ResponseWriter, r *http.Request, body []byte) {
	sum := sha256.Sum256(body)
	tag := `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
	w.Header().Set("ETag", tag)
	if r.Header.Get("If-None-Match") == tag {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeRaw(w, http.StatusOK, body)
}

// listPage calls list with the list options of r.
func listPage[T any](r *http.Request, list func(context.Context, shared.ListOptions) (shared.Page[T], error)) (shared.Page[T], error) {
	o, err := listOptions(r.URL.Query())
	if err != nil {
		return shared.Page[T]{}, err
	}
	return list(r.Context(), o)
}
