package web_test

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"gopkg.in/yaml.v3"

	"github.com/knot-dev/knot/web"
)

var docMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true}

// TestOpenAPICoversEveryRoute fails when a route is missing from the
// embedded document or the document describes a route that is not served.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(web.OpenAPI(), &doc); err != nil {
		t.Fatalf("the OpenAPI document does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for m, v := range ops {
			if !docMethods[m] {
				continue
			}
			documented[strings.ToUpper(m)+" "+path] = true
			op, _ := v.(map[string]any)
			if _, ok := op["responses"]; !ok {
				t.Errorf("%s %s has no responses", m, path)
			}
		}
	}

	e := newEnv(t)
	routes, ok := e.srv.Handler().(chi.Routes)
	if !ok {
		t.Fatal("the handler is not a chi router")
	}
	routed := map[string]bool{}
	err := chi.Walk(routes, func(method, route string, h http.Handler, mw ...func(http.Handler) http.Handler) error {
		// The document covers the API under /api/ and the operational
		// endpoints it lists; the web UI's pages and assets are not API.
		if !strings.HasPrefix(route, "/api/") && !documented[method+" "+route] {
			return nil
		}
		routed[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(routed) < 40 {
		t.Fatalf("only %d routes walked", len(routed))
	}
	var missing, extra []string
	for r := range routed {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for d := range documented {
		if !routed[d] {
			extra = append(extra, d)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes missing from openapi.yaml:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("openapi.yaml documents routes that are not served:\n  %s", strings.Join(extra, "\n  "))
	}
}

// TestOpenAPIReferencesResolve fails on a $ref to a component that does not
// exist.
func TestOpenAPIReferencesResolve(t *testing.T) {
	var doc map[string]any
	if err := yaml.Unmarshal(web.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	components, _ := doc["components"].(map[string]any)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "$ref" {
					ref, _ := x.(string)
					parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
					section, _ := components[parts[0]].(map[string]any)
					if len(parts) != 2 || section[parts[1]] == nil {
						t.Errorf("unresolved $ref %q", ref)
					}
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}
