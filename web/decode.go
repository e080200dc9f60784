package web

import (
	"mime"
	"net/http"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// decodeRequest reads the JSON object in r's body into v (see api.Decode).
// A body must come with Content-Type application/json (see checkJSONType).
func decodeRequest(w http.ResponseWriter, r *http.Request, v any) error {
	if err := checkJSONType(r); err != nil {
		return err
	}
	return api.Decode(http.MaxBytesReader(w, r.Body, api.MaxBody), v)
}

// checkJSONType refuses, with EMEDIATYPE (415), a request whose body is not
// declared as application/json, whether it names another type or none. A
// browser sends a cross-site request with a body without asking the server
// first only when the body is text/plain, a form, or has no type; refusing
// those keeps other sites from logging a browser in (login CSRF) or writing
// on its behalf. A request without a body is left to the decoder, which says
// that a JSON object is required.
func checkJSONType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" && r.ContentLength == 0 && len(r.TransferEncoding) == 0 {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case ct == "":
		return shared.Errorf(shared.EMEDIATYPE, "request body has no Content-Type: send it as application/json")
	case err != nil || mt != "application/json":
		if len(ct) > 100 {
			ct = ct[:100]
		}
		return shared.Errorf(shared.EMEDIATYPE, "request body is of type %q: send it as application/json", ct)
	}
	return nil
}
