package web_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/web"
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
		err := web.DecodeJSON(body, &v)
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

// FuzzAPI sends arbitrary bodies to every POST and PUT route as an admin
// and checks that the answer is never a server error.
func FuzzAPI(f *testing.F) {
	fx := newFixture(f)
	var routes []struct{ method, path string }
	for _, rt := range fx.bodyRoutes() {
		if rt.path == "/api/auth" || rt.path == "/api/auth/web" {
			continue // login bodies are covered by FuzzDecode; each attempt costs a bcrypt check
		}
		routes = append(routes, struct{ method, path string }{rt.method, rt.path})
		f.Add(uint8(len(routes)-1), []byte(rt.valid))
	}
	for i, s := range fuzzSeeds {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := routes[int(route)%len(routes)]
		e := *fx.env // the fixture's env reports to the F; this copy to t
		e.t = t
		r := e.send(req{method: rt.method, path: rt.path, token: fx.admin, body: body})
		if r.code >= 500 {
			t.Fatalf("%s %s with %q = %d %s", rt.method, rt.path, body, r.code, r.body)
		}
		if r.code >= 400 {
			r.errMsg(t)
		}
	})
}
