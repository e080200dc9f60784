package web_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

// TestSpacePageSaysWhenTheAgentIsLateInBrowser checks in Chromium that a
// space which has run for a while without its agent says so plainly and
// points to its log, where one that has just started only waits for it; in
// the spaces list and on its page its state reads "running · no agent".
func TestSpacePageSaysWhenTheAgentIsLateInBrowser(t *testing.T) {
	st := memory.New()
	base := startUIServer(t, func(o *web.TestOptions) { o.Store = st })
	b := newTab(t, base)
	b.setUpAdmin("a-long-password")

	ctx := context.Background()
	users, err := storage.List[shared.User](ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	admin := users[slices.IndexFunc(users, func(u *shared.User) bool { return u.Username == "admin" })]
	now := time.Now().UTC()
	tp := &shared.Template{Meta: shared.Meta{ID: newUUID(t), CreatedAt: now}, Name: "box", Kind: shared.TemplateContainer, Spec: "image: box\n"}
	tp.Hash = tp.ComputeHash()
	if err := st.Put(ctx, tp); err != nil {
		t.Fatal(err)
	}
	space := func(name string, started time.Time) string {
		sp := &shared.Space{Meta: shared.Meta{ID: newUUID(t), CreatedAt: now}, UserID: admin.ID, TemplateID: tp.ID,
			Name: name, Location: "home", Shell: "bash", State: shared.SpaceRunning, TemplateHash: tp.Hash, StartedAt: &started}
		if err := st.Put(ctx, sp); err != nil {
			t.Fatal(err)
		}
		return sp.ID
	}
	late := space("late", now.Add(-2*time.Minute))
	fresh := space("fresh", now)
	space("soon", now.Add(-26*time.Second))

	// The list: a space that ran a while without its agent is not shown
	// as plainly running, in its row nor in the state under its name; one
	// becomes so as time passes, with no change on the server.
	badge := func(name string) []string {
		return eval[[]string](b, "the badges of "+name, `[...document.querySelectorAll('#spaces tr[data-name="`+name+`"] .badge.state')].flatMap((e) => [
			e.querySelector('[aria-hidden=true]')?.textContent ?? e.textContent,
			e.querySelector('.sr-only')?.textContent ?? '',
			String(e.classList.contains('no-agent')),
		])`)
	}
	lateBadge := []string{"running · no agent", "running, but its agent is not connected", "true"}
	plain := []string{"running", "", "false"}
	b.open("/spaces")
	b.visible(`#spaces tr[data-name="soon"]`)
	if got := badge("late"); !slices.Equal(got, append(slices.Clone(lateBadge), lateBadge...)) {
		t.Errorf("the row of a space that ran 2 min without its agent shows %q", got)
	}
	if got := badge("soon"); !slices.Equal(got, append(slices.Clone(plain), plain...)) {
		t.Errorf("the row of a space that ran 26 s without its agent shows %q", got)
	}
	b.pollUntil("the space 'soon' shown without its agent", `document.querySelector('#spaces tr[data-name="soon"] .badge.state.no-agent') !== null`, 15*time.Second)
	if got := badge("soon"); !slices.Equal(got, append(slices.Clone(lateBadge), lateBadge...)) {
		t.Errorf("the row of a space that ran 30 s without its agent shows %q", got)
	}
	if got := badge("fresh"); !slices.Equal(got, append(slices.Clone(plain), plain...)) {
		t.Errorf("the row of a space that has just started shows %q", got)
	}

	// Without an agent, the list offers no terminal, which the page
	// could not open.
	b.open("/spaces")
	b.visible(`#spaces tr[data-name="late"][data-state="running"]`)
	b.visible(`#spaces tr[data-name="fresh"][data-state="running"]`)
	if eval[bool](b, "a terminal link", `!!document.querySelector('#spaces a[href$="#terminal-title"]')`) {
		t.Error("the list offers the terminal of a running space whose agent has not connected")
	}

	b.open("/spaces/" + late)
	b.pollUntil("the agent said late", `document.querySelector('#space-agent').dataset.late === 'true'`, 10*time.Second)
	if got := b.text("#space-agent"); got != "Not connected: the space runs, but its agent has not reached this server in 30 s. See the log for why." {
		t.Errorf("the agent of a space that ran 2 min without it shows as %q", got)
	}
	if got := eval[string](b, "link to the log", `document.querySelector('#space-agent a').getAttribute('href')`); got != "#logs-title" {
		t.Errorf("the agent's line links %q, not the log", got)
	}
	if got := eval[string](b, "the state badge", `document.querySelector('#state-badge [aria-hidden=true]')?.textContent + ' / ' + document.querySelector('#state-badge .sr-only')?.textContent`); got != "running · no agent / running, but its agent is not connected" {
		t.Errorf("the state of a space that ran 2 min without its agent shows as %q", got)
	}
	if got := b.text("#terminal-off"); !strings.HasPrefix(got, "The space has run for 2 min, but its agent has not connected") {
		t.Errorf("the terminal says %q", got)
	}

	b.open("/spaces/" + fresh)
	b.visible(`#space[data-state="running"]`)
	b.pollUntil("the template known", `document.querySelector('#space-agent').dataset.late === 'false'`, 10*time.Second)
	if got := b.text("#state-badge"); got != "running" {
		t.Errorf("the state of a space that has just started shows as %q", got)
	}
	if got := b.text("#space-agent"); got != "Not connected yet" {
		t.Errorf("the agent of a space that has just started shows as %q", got)
	}
	if got := b.text("#terminal-off"); got != "The terminal opens when the space's agent connects." {
		t.Errorf("the terminal of a space that has just started says %q", got)
	}
	if eval[bool](b, "ssh later shown", `document.getElementById('ssh-later').checkVisibility()`) {
		t.Error("a running space says SSH works only once it runs")
	}
}
