package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
)

// Scale targets of one list page (docs/BENCHMARKS.md): the server answers
// in under 100 ms and sends under 200 KB with 10,000 spaces and 10,000 users.
const (
	scaleRecords  = 10_000
	maxPageBytes  = 200_000
	maxPageMillis = 100
)

// scaleEnv returns a server with n users, each owning one space of one of
// 10 templates, and an admin with a token.
func scaleEnv(tb testing.TB, n int) (*env, *shared.User, string) {
	tb.Helper()
	e := newEnv(tb)
	admin, token := e.admin()
	ctx := context.Background()
	var tpls []*shared.Template
	for i := range 10 {
		tpls = append(tpls, e.template(fmt.Sprintf("template-%d", i)))
	}
	states := []shared.SpaceState{shared.SpaceRunning, shared.SpaceStopped, shared.SpaceStopped, shared.SpaceFailed}
	now := e.clock.Now()
	for i := range n {
		u := &shared.User{Meta: shared.Meta{ID: newUUID(tb), CreatedAt: now, UpdatedAt: now},
			Username: fmt.Sprintf("user-%05d", i), Email: fmt.Sprintf("user-%05d@example.com", i),
			Roles: []string{shared.UserRoleID}, Active: i%7 != 0}
		if err := e.store.Put(ctx, u); err != nil {
			tb.Fatal(err)
		}
		t := tpls[i%len(tpls)]
		sp := &shared.Space{Meta: shared.Meta{ID: newUUID(tb), CreatedAt: now.Add(time.Duration(i) * time.Second)},
			UserID: u.ID, TemplateID: t.ID, Name: fmt.Sprintf("space-%05d", i), Description: "a space of the benchmark",
			Location: "home", Shell: "bash", State: states[i%len(states)], TemplateHash: t.Hash}
		if err := e.store.Put(ctx, sp); err != nil {
			tb.Fatal(err)
		}
	}
	return e, admin, token
}

// scalePages are the list pages the UI asks for.
var scalePages = []struct{ name, path string }{
	{"SpacesFirstPage", "/api/spaces?all=true&sort=name&limit=50"},
	{"SpacesLastPage", "/api/spaces?all=true&sort=-created&limit=50&offset=9950"},
	{"SpacesSearch", "/api/spaces?all=true&q=space-0999&sort=name&limit=50"},
	{"SpacesFiltered", "/api/spaces?all=true&state=running&owner=user-00004&limit=50"},
	{"UsersFirstPage", "/api/users?sort=name&limit=50"},
	{"UsersSearch", "/api/users?q=user-0999&limit=50"},
	{"TemplatesForNewSpace", "/api/templates?q=template-1&sort=name&limit=20"},
}

// getPage sends GET path and returns the size of the answer.
func getPage(c *http.Client, url, path, token string) (int, error) {
	rq, _ := http.NewRequest("GET", url+path, nil)
	rq.Header.Set("Authorization", "Bearer "+token)
	res, err := c.Do(rq)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s = %d", path, res.StatusCode)
	}
	return int(n), err
}

// BenchmarkListPage10k measures one page of each list with 10,000 spaces
// and 10,000 users over loopback HTTP: the time per request (ms/req, its
// CPU time cpu-ms/req) and the bytes of the answer (resp-bytes). The "AfterChange" cases change
// one space before each request, so the server lists the store again.
func BenchmarkListPage10k(b *testing.B) {
	e, admin, token := scaleEnv(b, scaleRecords)
	url := serve(b, e)
	c := benchClient(1)
	run := func(b *testing.B, path string, change func()) {
		n, err := getPage(c, url, path, token)
		if err != nil {
			b.Fatal(err)
		}
		var spent, cpu time.Duration
		for b.Loop() {
			if change != nil {
				change()
			}
			t0, c0 := time.Now(), cpuTime()
			if _, err := getPage(c, url, path, token); err != nil {
				b.Fatal(err)
			}
			spent, cpu = spent+time.Since(t0), cpu+cpuTime()-c0
		}
		ms := func(d time.Duration) float64 { return float64(d) / float64(b.N) / float64(time.Millisecond) }
		b.ReportMetric(float64(n), "resp-bytes")
		b.ReportMetric(ms(spent), "ms/req")
		// CPU time of client and server together: what a request costs,
		// however busy the machine is.
		b.ReportMetric(ms(cpu), "cpu-ms/req")
	}
	for _, p := range scalePages {
		b.Run(p.name, func(b *testing.B) { run(b, p.path, nil) })
	}
	// The whole lists, as every page asked for them before they took
	// options: the baseline of the pages above.
	b.Run("SpacesWholeList", func(b *testing.B) { run(b, "/api/spaces?all=true", nil) })
	b.Run("UsersWholeList", func(b *testing.B) { run(b, "/api/users", nil) })
	sp := e.space(admin, e.template("changing"), "changing")
	i := 0
	change := func() {
		i++
		sp.Description = fmt.Sprint(i)
		if err := e.store.Put(context.Background(), sp); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("SpacesFirstPageAfterChange", func(b *testing.B) { run(b, scalePages[0].path, change) })
	b.Run("UsersFirstPageAfterChange", func(b *testing.B) { run(b, scalePages[4].path, change) })
}

// TestListPagesAt10kAreSmall checks the transfer target of every list page
// the UI asks for with 10,000 spaces and users, and that a page holds what
// it promises.
func TestListPagesAt10kAreSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a store with 20,000 records")
	}
	e, _, token := scaleEnv(t, scaleRecords)
	for _, p := range scalePages {
		r := e.must(http.StatusOK, "GET", p.path, token, nil)
		if len(r.body) >= maxPageBytes {
			t.Errorf("GET %s: %d bytes, want under %d", p.path, len(r.body), maxPageBytes)
		}
	}
	r := e.must(http.StatusOK, "GET", scalePages[0].path, token, nil)
	var l struct {
		Count, Total int
		States       map[string]int
	}
	r.decode(t, &l)
	if l.Count != 50 || l.Total != scaleRecords || l.States["running"] != scaleRecords/4 || l.States["failed"] != scaleRecords/4 {
		t.Fatalf("first page: count %d, total %d, states %v", l.Count, l.Total, l.States)
	}
}
