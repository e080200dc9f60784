package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
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

	named := inBrowsersZone(loc)
	check := func(page, css string) []shownTime { return b.checkTimes(page, css, named) }
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
	b.checkFmtTime(named)
}

// shownAs returns how a page shows an instant, formatted with Go's layout
// (a date and time of day, or the time alone) and named.
type shownAs func(at time.Time, layout string) string

// inBrowsersZone is how times show in the browser's zone loc: the browser
// (in en-US) names it by its abbreviation, as Go does.
func inBrowsersZone(loc *time.Location) shownAs {
	return func(at time.Time, layout string) string { return at.In(loc).Format(layout + " MST") }
}

// inProfileZone is how times show in the zone of the user's profile: named
// as the tz database, and the profile, name it.
func inProfileZone(loc *time.Location) shownAs {
	return func(at time.Time, layout string) string { return at.In(loc).Format(layout) + " " + loc.String() }
}

// checkTimes opens page and checks every time in css: it shows as want
// says (or says "5 min ago" and names the time so in its title), and
// holds its instant in UTC.
func (b *tab) checkTimes(page, css string, want shownAs) []shownTime {
	b.t.Helper()
	b.open(page)
	got := b.timesIn(css)
	for _, s := range got {
		b.checkTime(page, s, want)
	}
	return got
}

func (b *tab) checkTime(page string, s shownTime, want shownAs) {
	b.t.Helper()
	for _, e := range timeWrong(page, s, want) {
		b.t.Error(e)
	}
}

// timeWrong says what is wrong with the time s, shown on page, for want.
func timeWrong(page string, s shownTime, want shownAs) []string {
	at, err := time.Parse(time.RFC3339Nano, s.Datetime)
	if err != nil {
		return []string{fmt.Sprintf("%s: the <time> of %q holds %q, not an RFC 3339 time: %v", page, s.Text, s.Datetime, err)}
	}
	var out []string
	// The text may be "5 min ago"; then the title names the time.
	w := want(at, "2006-01-02 15:04")
	if s.Text != w && s.Title != fmt.Sprintf("%s (%s)", w, s.Datetime) {
		out = append(out, fmt.Sprintf("%s shows %q (title %q) for %s, want %q", page, s.Text, s.Title, s.Datetime, w))
	}
	if s.Text == w && s.Title != s.Datetime {
		out = append(out, fmt.Sprintf("%s: the title of %q is %q, want the instant %s", page, s.Text, s.Title, s.Datetime))
	}
	if at.Location() != time.UTC {
		out = append(out, fmt.Sprintf("%s: the instant of %q is %q, not in UTC", page, s.Text, s.Datetime))
	}
	return out
}

// waitTimes waits until every time in each of css shows as want says.
func (b *tab) waitTimes(page string, want shownAs, css ...string) {
	b.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		var wrong []string
		for _, c := range css {
			for _, s := range b.timesIn(c) {
				wrong = append(wrong, timeWrong(page, s, want)...)
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("after %v: %s", stepTimeout, strings.Join(wrong, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkFmtTime checks fmtTime on the open page, in winter and in summer,
// with the date and with the time of day alone.
func (b *tab) checkFmtTime(want shownAs) {
	b.t.Helper()
	for _, at := range []time.Time{time.Date(2026, 12, 7, 18, 20, 5, 0, time.UTC), time.Date(2026, 7, 1, 9, 5, 59, 0, time.UTC)} {
		got := value(b, "fmtTime", chromedp.Evaluate[[]string](fmt.Sprintf(
			`import('/ui/static/js/dom.js').then(({ fmtTime }) => [fmtTime(%[1]q), fmtTime(%[1]q, { clock: true })])`, at.Format(time.RFC3339)), chromedp.EvalAwaitPromise))
		w := []string{want(at, "2006-01-02 15:04"), want(at, "15:04:05")}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			b.t.Errorf("fmtTime(%s) = %q, want %q", at.Format(time.RFC3339), got, w)
		}
	}
}

// TestUITimesInProfileZoneInBrowser: a user whose profile names a time
// zone sees every time in it, named, whatever the browser's zone; saving
// another zone on My account shows the page's times in it at once, without
// a reload; with none, times show in the browser's zone again.
func TestUITimesInProfileZoneInBrowser(t *testing.T) {
	base := startUIServer(t)
	b := newTab(t, base)
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	b.do("live in New York", inZone(newYork.String()))
	b.setUpAdmin("a-long-password")
	var me struct {
		ID string `json:"user_id"`
	}
	mustFetch(t, b.fetch("GET", "/api/users/whoami", nil, false), http.StatusOK, &me)
	mustFetch(t, b.fetch("PUT", "/api/users/"+me.ID, map[string]string{"timezone": tokyo.String()}, true), http.StatusOK, nil)
	mustFetch(t, b.fetch("POST", "/api/tokens", map[string]string{"name": "ci"}, true), http.StatusCreated, nil)

	if got := b.checkTimes("/tokens", "#tokens tbody", inProfileZone(tokyo)); len(got) != 1 {
		t.Errorf("the token's row shows %d times, want its creation: %+v", len(got), got)
	}
	b.checkFmtTime(inProfileZone(tokyo))
	if got := b.checkTimes("/account", "#sessions tbody", inProfileZone(tokyo)); len(got) < 2 {
		t.Errorf("the session shows %d times, want when it logged in and was last used: %+v", len(got), got)
	}
	if hint := b.text("#timezone-hint"); !strings.Contains(hint, "Times on these pages show in this zone") {
		t.Errorf("the time zone's hint says %q, not what the zone does", hint)
	}

	// Another zone, saved: the times on the page follow, in the same page.
	saveZone := func(zone string, want shownAs) {
		t.Helper()
		b.do("mark the page", chromedp.Evaluate[chromedp.Void](`void (window.samePage = true)`))
		b.typeIn("#profile-form input[name=timezone]", zone)
		b.click("#profile-form button[type=submit]")
		b.waitTimes(fmt.Sprintf("/account after saving the zone %q", zone), want, "#sessions tbody", "#tokens tbody")
		if !eval[bool](b, "the same page", `window.samePage === true`) {
			t.Errorf("saving the zone %q reloaded the page", zone)
		}
	}
	saveZone(london.String(), inProfileZone(london))
	saveZone("", inBrowsersZone(newYork))

	// Without a zone in the profile, the pages show the browser's.
	b.checkTimes("/tokens", "#tokens tbody", inBrowsersZone(newYork))
	b.checkFmtTime(inBrowsersZone(newYork))
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
