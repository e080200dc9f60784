package web

import (
	"bytes"
	"io"
	"net/http"
)

// DecodeJSON runs the request body decoder on body, with the body limit of
// the API, for black-box tests.
func DecodeJSON(body []byte, v any) error {
	return decodeJSON(http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(body)), maxBody), v)
}
