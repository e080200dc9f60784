package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/web"
)

func TestTemplateHTTPPortsAreCheckedAndShownWithTheSpace(t *testing.T) {
	e := newEnv(t)
	_, admin := e.admin()
	for body, want := range map[string]string{
		`{"name":"ab","kind":"manual","http_ports":[{"port":0,"name":"x"}]}`:                         "from 1 to 65535, not 0",
		`{"name":"ab","kind":"manual","http_ports":[{"port":80,"name":"x"},{"port":80,"name":"y"}]}`: "port 80 is given twice",
		`{"name":"ab","kind":"manual","http_ports":[{"port":80,"name":""}]}`:                         "the name of port 80",
		`{"name":"ab","kind":"manual","http_ports":[{"port":80,"name":"<script>"}]}`:                 "the name of port 80",
		`{"name":"ab","kind":"manual","http_ports":` + "[" + ports(33) + "]}":                        "at most 32",
	} {
		r := e.send(req{method: "POST", path: "/api/templates", token: admin, body: body})
		if r.code != 400 || !strings.Contains(r.errMsg(t), want) {
			t.Errorf("%s: %d %s, want 400 saying %q", body, r.code, r, want)
		}
	}
	r := e.must(201, "POST", "/api/templates", admin, map[string]any{"name": "web", "kind": "manual", "http_ports": []map[string]any{{"port": 8080, "name": "Site"}}})
	var created struct {
		TemplateID string `json:"template_id"`
	}
	r.decode(t, &created)
	var tmpl struct {
		HTTPPorts []shared.HTTPPort `json:"http_ports"`
	}
	e.must(200, "GET", "/api/templates/"+created.TemplateID, admin, nil).decode(t, &tmpl)
	if len(tmpl.HTTPPorts) != 1 || tmpl.HTTPPorts[0] != (shared.HTTPPort{Port: 8080, Name: "Site"}) {
		t.Fatalf("the template's http_ports: %+v", tmpl.HTTPPorts)
	}
	r = e.must(201, "POST", "/api/spaces", admin, map[string]any{"name": "dev", "template_id": created.TemplateID})
	var sp struct {
		SpaceID string `json:"space_id"`
	}
	r.decode(t, &sp)
	var got struct {
		HTTPPorts []shared.HTTPPort `json:"http_ports"`
	}
	e.must(200, "GET", "/api/spaces/"+sp.SpaceID, admin, nil).decode(t, &got)
	if len(got.HTTPPorts) != 1 || got.HTTPPorts[0].Port != 8080 {
		t.Fatalf("the space's http_ports: %s", e.do("GET", "/api/spaces/"+sp.SpaceID, admin, nil))
	}
}

func ports(n int) string {
	var b []string
	for i := range n {
		b = append(b, `{"port":`+strconv.Itoa(i+1)+`,"name":"p"}`)
	}
	return strings.Join(b, ",")
}

func TestWebAppsAndForwardsAreRefusedWithAReason(t *testing.T) {
	e := newEnv(t)
	owner, ownerTok := e.user("alice")
	_, bobTok := e.user("bob")
	tm := e.template("web")
	tm.HTTPPorts = []shared.HTTPPort{{Port: 8080, Name: "Site"}}
	if err := e.store.Put(context.Background(), tm); err != nil {
		t.Fatal(err)
	}
	sp := e.space(owner, tm, "dev")
	for _, c := range []struct {
		path, token string
		code        int
		says        string
	}{
		{"/proxy/spaces/" + sp.ID + "/ports/8080/", "", 401, "authentication required"},
		{"/proxy/spaces/" + sp.ID + "/ports/8080/", bobTok, 404, "not found"},
		{"/api/spaces/" + sp.ID + "/ports/22", bobTok, 404, "not found"},
		{"/proxy/spaces/" + sp.ID + "/ports/9090/", ownerTok, 503, "no agent endpoint"},
		{"/proxy/spaces/" + sp.ID + "/ports/0/", ownerTok, 400, "from 1 to 65535"},
		{"/proxy/spaces/" + sp.ID + "/ports/08080/", ownerTok, 400, "from 1 to 65535"},
		{"/api/spaces/" + sp.ID + "/ports/22", ownerTok, 503, "no agent endpoint"},
		{"/proxy/auth?to=http://alice--dev--8080.example.com/", ownerTok, 400, "server.wildcard_domain"},
	} {
		r := e.do("GET", c.path, c.token, nil)
		if r.code != c.code || !strings.Contains(r.errMsg(t), c.says) {
			t.Errorf("GET %s: %d %s, want %d saying %q", c.path, r.code, r, c.code, c.says)
		}
	}

	off := newEnv(t, func(o *web.TestOptions) { o.DisableProxy = true })
	owner, ownerTok = off.user("alice")
	sp = off.space(owner, off.template("web"), "dev")
	for _, path := range []string{"/proxy/spaces/" + sp.ID + "/ports/8080/", "/api/spaces/" + sp.ID + "/ports/22"} {
		if r := off.do("GET", path, ownerTok, nil); r.code != 403 || !strings.Contains(r.errMsg(t), "server.disable_proxy") {
			t.Errorf("GET %s with the proxy off: %d %s", path, r.code, r)
		}
	}
}
