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
// points to its log, where one that has just started only waits for it.
func TestSpacePageSaysWhenTheAgentIsLateInBrowser(t *testing.T) {
	st := memory.New()
	base := startUIServer(t, func(o *web.TestOptions) { o.Store = st })
	b := newTab(t, base)
	b.open("/login")
	b.typeIn("#setup-form input[name=username]", "admin")
	b.typeIn("#setup-form input[name=email]", "admin@example.com")
	b.typeIn("#setup-form input[name=password]", "a-long-password")
	b.typeIn("#setup-form input[name=password2]", "a-long-password")
	b.click("#setup-form button[type=submit]")
	b.waitPath("/spaces")

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
	if got := b.text("#terminal-off"); !strings.HasPrefix(got, "The space has run for 2 min, but its agent has not connected") {
		t.Errorf("the terminal says %q", got)
	}

	b.open("/spaces/" + fresh)
	b.visible(`#space[data-state="running"]`)
	b.pollUntil("the template known", `document.querySelector('#space-agent').dataset.late === 'false'`, 10*time.Second)
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
