package web_test

import (
	"testing"
)

var fuzzSeeds = []string{
	``, `{}`, `null`, `[]`, `"x"`, `{"name":"a"}`, `{"name":`, `{"name":"a"} {}`, `{"name":"a"}x`,
	`{"bogus":1}`, `{"name":5}`, `{"max_spaces":1e99}`, `{"max_spaces":-1}`, `{"roles":["x",1]}`,
	`{"name":"a--b","kind":"container","spec":"- x"}`, `{"protected":true,"name":"v"}`,
	`{"name":"\u0000"}`, `{"groups":null,"name":"ok-name"}`, "{\"name\":\"\xff\"}", `{"a":{"b":{"c":[[[[]]]]}}}`,
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
