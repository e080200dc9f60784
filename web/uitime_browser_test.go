package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

// inZone makes the tab's browser live in the time zone zone, in the
// en-US locale, which names its zones by their usual abbreviations.
func inZone(zone string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en-US"}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone})
		return err
	})
}

// shownTime is a time as a page shows it: its text, and the instant its
// <time> holds.
type shownTime struct {
	Text     string `json:"text"`
	Datetime string `json:"datetime"`
	Title    string `json:"title"`
}

// timesIn waits until css holds a <time> and returns every one in it.
func (b *tab) timesIn(css string) []shownTime {
	b.t.Helper()
	b.pollUntil("a time in "+css, fmt.Sprintf(`document.querySelector(%q)?.querySelector('time') !== null`, css), stepTimeout)
	return eval[[]shownTime](b, "the times in "+css, fmt.Sprintf(
		`[...document.querySelector(%q).querySelectorAll('time')].map(t => ({text: t.textContent, datetime: t.dateTime, title: t.title}))`, css))
}

// TestUITimesInBrowser: every time the pages show is in the browser's own
// time zone, which they name, and holds the exact instant (UTC, to the
// millisecond) in its <time>: the lists of API tokens, variables, the
// audit log, the sessions of My account, and the space page's start.
func TestUITimesInBrowser(t *testing.T) {
	st := memory.New()
	base := startUIServer(t, func(o *web.TestOptions) { o.Store = st })
	b := newTab(t, base)
	const zone = "America/New_York"
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	b.do("live in "+zone, inZone(zone))
	b.setUpAdmin("a-long-password")

	// The token's creation time as the API gives it.
	if r := b.fetch("POST", "/api/tokens", map[string]string{"name": "ci"}, true); r.Status != http.StatusCreated {
		t.Fatalf("create a token: %d %s", r.Status, r.Body)
	}
	var tokens []struct {
		CreatedAt time.Time `json:"created_at"`
	}
	if r := b.fetch("GET", "/api/tokens", nil, false); r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &tokens) != nil || len(tokens) != 1 {
		t.Fatalf("list the tokens: %d %s", r.Status, r.Body)
	}
	if r := b.fetch("POST", "/api/templatevars", map[string]any{"name": "greeting", "value": "hello"}, true); r.Status != http.StatusCreated {
		t.Fatalf("create a variable: %d %s", r.Status, r.Body)
	}
	spaceID := startedSpace(t, b, st)

	check := func(page, css string) []shownTime {
		t.Helper()
		b.open(page)
		got := b.timesIn(css)
		for _, s := range got {
			at, err := time.Parse(time.RFC3339Nano, s.Datetime)
			if err != nil {
				t.Errorf("%s: the <time> of %q holds %q, not an RFC 3339 time: %v", page, s.Text, s.Datetime, err)
				continue
			}
			// The text may be "5 min ago"; then the title names the time.
			want := at.In(loc).Format("2006-01-02 15:04 MST")
			if s.Text != want && s.Title != fmt.Sprintf("%s (%s)", want, s.Datetime) {
				t.Errorf("%s shows %q (title %q) for %s, want %q", page, s.Text, s.Title, s.Datetime, want)
			}
			if s.Text == want && s.Title != s.Datetime {
				t.Errorf("%s: the title of %q is %q, want the instant %s", page, s.Text, s.Title, s.Datetime)
			}
			if at.Location() != time.UTC {
				t.Errorf("%s: the instant of %q is %q, not in UTC", page, s.Text, s.Datetime)
			}
		}
		return got
	}
	toks := check("/tokens", "#tokens tbody")
	if len(toks) != 1 {
		t.Fatalf("the token's row shows %d times, want its creation: %+v", len(toks), toks)
	}
	if at, _ := time.Parse(time.RFC3339Nano, toks[0].Datetime); !at.Equal(tokens[0].CreatedAt.Truncate(time.Millisecond)) {
		t.Errorf("the token's <time> holds %s, the API says %s", toks[0].Datetime, tokens[0].CreatedAt)
	}
	check("/variables", "#variables tbody")
	check("/audit-logs", "#audit tbody")
	if got := check("/account", "#sessions tbody"); len(got) < 2 {
		t.Errorf("the session shows %d times, want when it logged in and was last used: %+v", len(got), got)
	}
	if got := check("/spaces/"+spaceID, "#space-started"); len(got) != 1 {
		t.Errorf("the space's start shows %d times: %+v", len(got), got)
	}

	// A log line and the leaf's banner give the time of day, the zone
	// named too; in summer it is the summer time's.
	for _, at := range []time.Time{time.Date(2026, 12, 7, 18, 20, 5, 0, time.UTC), time.Date(2026, 7, 1, 9, 5, 59, 0, time.UTC)} {
		got := value(b, "fmtTime", chromedp.Evaluate[[]string](fmt.Sprintf(
			`import('/ui/static/js/dom.js').then(({ fmtTime }) => [fmtTime(%[1]q), fmtTime(%[1]q, { clock: true })])`, at.Format(time.RFC3339)), chromedp.EvalAwaitPromise))
		want := []string{at.In(loc).Format("2006-01-02 15:04 MST"), at.In(loc).Format("15:04:05 MST")}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("fmtTime(%s) = %q, want %q", at.Format(time.RFC3339), got, want)
		}
	}
}

// startedSpace makes a space of a manual template from the page, records
// it as running since a minute ago, and returns its id.
func startedSpace(t *testing.T, b *tab, st storage.Store) string {
	t.Helper()
	r := b.fetch("POST", "/api/templates", map[string]any{"name": "byo", "kind": "manual"}, true)
	var tpl struct {
		ID string `json:"template_id"`
	}
	if r.Status != http.StatusCreated || json.Unmarshal([]byte(r.Body), &tpl) != nil {
		t.Fatalf("create a template: %d %s", r.Status, r.Body)
	}
	r = b.fetch("POST", "/api/spaces", map[string]string{"name": "dev", "template_id": tpl.ID}, true)
	var sp struct {
		ID string `json:"space_id"`
	}
	if r.Status != http.StatusCreated || json.Unmarshal([]byte(r.Body), &sp) != nil {
		t.Fatalf("create a space: %d %s", r.Status, r.Body)
	}
	ctx := context.Background()
	space, err := storage.Get[shared.Space](ctx, st, sp.ID)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now().Add(-time.Minute)
	space.State, space.StartedAt = shared.SpaceRunning, &started
	if err := st.Put(ctx, space); err != nil {
		t.Fatal(err)
	}
	return sp.ID
}
