package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

var fuzzSeeds = []string{
	``, `{}`, `null`, `[]`, `"x"`, `{"name":"a"}`, `{"name":`, `{"name":"a"} {}`, `{"name":"a"}x`,
	`{"bogus":1}`, `{"name":5}`, `{"max_spaces":1e99}`, `{"max_spaces":-1}`, `{"roles":["x",1]}`,
	`{"name":"a--b","kind":"container","spec":"- x"}`, `{"protected":true,"name":"v"}`,
	`{"name":"\u0000"}`, `{"groups":null,"name":"ok-name"}`, "{\"name\":\"\xff\"}", `{"a":{"b":{"c":[[[[]]]]}}}`,
}

type decodeTarget struct {
	Name   string            `json:"name"`
	Count  *int              `json:"count"`
	Small  uint16            `json:"small"`
	Flag   bool              `json:"flag"`
	List   []string          `json:"list"`
	Nested *decodeTarget     `json:"nested"`
	Map    map[string]string `json:"map"`
}

// FuzzDecode checks that the body decoder never panics, fails only with
// EINVALID or ETOOLARGE, and accepts only a single JSON object (or null).
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"name":"x","count":3,"small":7,"flag":true,"list":["a"],"nested":{"name":"y"},"map":{"k":"v"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var v decodeTarget
		err := api.Decode(http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(body)), api.MaxBody), &v)
		if err != nil {
			switch code := shared.ErrorCode(err); code {
			case shared.EINVALID, shared.ETOOLARGE:
			default:
				t.Fatalf("decode %q failed with code %s: %v", body, code, err)
			}
			if shared.ErrorMessage(err) == "" {
				t.Fatalf("decode %q failed without a message", body)
			}
			return
		}
		trimmed := bytes.TrimSpace(body)
		if !json.Valid(body) || !(bytes.HasPrefix(trimmed, []byte("{")) || bytes.Equal(trimmed, []byte("null"))) {
			t.Fatalf("decode accepted %q, which is not one JSON object", body)
		}
	})
}
