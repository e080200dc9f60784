package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// stays fails the test unless the script cond stays true for d, checking it
// in the page every 50 ms: the poll waits for cond to turn false, and its
// running out of time is the success.
func (b *tab) stays(what, cond string, d time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d+stepTimeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`!(%s)`, cond),
		chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(50*time.Millisecond)))
	switch {
	case errors.Is(err, chromedp.ErrPollingTimeout):
		return
	case err == nil:
		b.t.Fatalf("%s: no longer true within %s%s", what, d, b.state())
	default:
		b.t.Fatalf("%s: %v%s", what, err, b.state())
	}
}

// eval runs a script in the page and returns its value.
func eval[T any](b *tab, what, js string) T {
	b.t.Helper()
	return value(b, what, chromedp.Evaluate[T](js))
}

// screenshots saves the page as name-desktop.png at 1280 px and
// name-390.png at a phone's 390 px, then goes back to the desktop width.
func (b *tab) screenshots(dir, name string) {
	b.t.Helper()
	b.do("desktop width", chromedp.EmulateViewport(1280, 900))
	b.screenshot(dir, name+"-desktop.png")
	b.do("phone width", chromedp.EmulateViewport(390, 844))
	b.screenshot(dir, name+"-390.png")
	b.do("desktop width again", chromedp.EmulateViewport(1280, 900))
}

// login logs in on the login page the tab is on and waits for want.
func (b *tab) login(email, password, want string) {
	b.t.Helper()
	// A page that sends the browser to log in may do so from its script:
	// type into the login page once it is the one loaded.
	b.waitLoaded(`location.pathname === "/login"`, "/login")
	b.typeIn("#login-form input[name=email]", email)
	b.typeIn("#login-form input[name=password]", password)
	b.click("#login-form button[type=submit]")
	b.waitPath(want)
}

// TestUIFeedbackInBrowser checks in Chromium that what comes of an action
// stays in sight: a failed Start is still shown after the list has
// refreshed, until it is dismissed; a refused form says what is wrong next
// to the field, in the words of the form, and keeps what was typed. It
// checks the small things a keyboard or screen reader user relies on too:
// buttons named with their row, the skip link, the focus after an action,
// an HTML 404 page, and a login that ends on a page the user may see.
func TestUIFeedbackInBrowser(t *testing.T) {
	base := startUIServer(t)
	b := newTab(t, base)
	shots := t.TempDir()
	if dir := os.Getenv("KNOT_UI_SCREENSHOTS"); dir != "" {
		t.Logf("screenshots in %s and %s", shots, dir)
	}
	const password = "a-long-password"

	b.setUpAdmin(password)
	// No runtime is configured, so a container space is created but
	// cannot start.
	r := b.fetch("POST", "/api/templates", map[string]any{"name": "dev-box", "kind": "container", "spec": "image: debian:bookworm\n"}, true)
	if r.Status != http.StatusCreated {
		t.Fatalf("create template = %d %s", r.Status, r.Body)
	}
	tmplID := eval[string](b, "template id", fmt.Sprintf(`JSON.parse(%q).template_id`, r.Body))
	if r := b.fetch("POST", "/api/spaces", map[string]any{"name": "dev", "template_id": tmplID}, true); r.Status != http.StatusCreated {
		t.Fatalf("create space = %d %s", r.Status, r.Body)
	}
	if r := b.fetch("POST", "/api/users", map[string]any{"username": "ann", "email": "ann@example.com", "password": password}, true); r.Status != http.StatusCreated {
		t.Fatalf("create user = %d %s", r.Status, r.Body)
	}

	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"FailedStartStaysUntilDismissed", func(t *testing.T) {
			b.open("/spaces")
			b.visible(`#spaces tr[data-name="dev"] button[data-action="start"]`)
			b.click(`#spaces tr[data-name="dev"] button[data-action="start"]`)
			// Any alert on the page will do: the point is that the message
			// is there and stays there.
			const shown = `[...document.querySelectorAll('[role="alert"]')].some(a => a.checkVisibility() && a.textContent.includes('Could not start dev: no runtime is configured for container templates'))`
			b.do("wait for the error", chromedp.Poll[chromedp.Void](shown, chromedp.WithPollingTimeout(stepTimeout)))
			// The list refreshes every 3 s: the error outlives the next one.
			b.stays("the error stays shown", shown, 3500*time.Millisecond)
			const alert = `#alerts [role="alert"]`
			if !eval[bool](b, "focus on the alert", `!!document.activeElement.closest('#alerts')`) {
				t.Errorf("the focus is not on the alert after the failed action")
			}
			b.screenshots(shots, "spaces-error")
			b.checkAccessibility("/spaces with an error shown")
			b.click(`#alerts button.dismiss`)
			b.gone(alert)
			if got := eval[string](b, "focus after dismiss", `document.activeElement.getAttribute('aria-label') || document.activeElement.tagName`); got != "Start dev" {
				t.Errorf("after dismissing, the focus is on %q, want the button Start dev", got)
			}
		}},
		{"SuccessIsAnnouncedAndClearsItself", func(t *testing.T) {
			if r := b.fetch("POST", "/api/tokens", map[string]string{"name": "old CLI"}, true); r.Status != http.StatusCreated {
				t.Fatalf("create token = %d %s", r.Status, r.Body)
			}
			b.open("/tokens")
			b.click(`#tokens tr[data-name="old CLI"] button[data-action="delete"]`)
			b.click("#confirm-ok")
			b.gone(`#tokens tr[data-name="old CLI"]`)
			if msg := b.text(`#alerts [role="status"] p`); msg != "API token old CLI deleted." {
				t.Errorf("status says %q", msg)
			}
			// The row is gone, so the focus is on the message.
			b.do("focus on the message", chromedp.Poll[chromedp.Void](`!!document.activeElement.closest('#alerts')`, chromedp.WithPollingTimeout(stepTimeout)))
			b.gone(`#alerts [role="status"]`)
		}},
		{"RowButtonsNameTheirRow", func(t *testing.T) {
			b.open("/spaces")
			b.visible(`#spaces tr[data-name="dev"] button`)
			got := eval[[]string](b, "space buttons", `[...document.querySelectorAll('#spaces tbody button')].map(e => e.getAttribute('aria-label') || e.textContent)`)
			if strings.Join(got, ",") != "Start dev,Delete dev" {
				t.Errorf("space row buttons are named %q", got)
			}
			b.open("/templates")
			b.visible(`#templates tr[data-name="dev-box"] button`)
			got = eval[[]string](b, "template buttons", `[...document.querySelectorAll('#templates tbody button')].map(e => e.getAttribute('aria-label') || e.textContent)`)
			if strings.Join(got, ",") != "Edit dev-box,Delete dev-box" {
				t.Errorf("template row buttons are named %q", got)
			}
		}},
		{"SkipLinkLeadsToMain", func(t *testing.T) {
			b.open("/spaces")
			b.visible(`main[aria-busy="false"]`)
			b.do("tab to the first link", chromedp.KeyEvent("\t"))
			if got := eval[string](b, "first focus", `document.activeElement.textContent + ' -> ' + document.activeElement.getAttribute('href')`); got != "Skip to main content -> #main" {
				t.Fatalf("the first Tab reaches %q", got)
			}
			b.do("follow the skip link", chromedp.KeyEvent("\r"))
			if got := eval[string](b, "focus after skip", `document.activeElement.id`); got != "main" {
				t.Errorf("after the skip link the focus is on #%s", got)
			}
		}},
		{"RefusedFormShowsErrorByTheFieldAndKeepsValues", func(t *testing.T) {
			b.open("/templates")
			b.click("#new-template")
			b.visible("#editor")
			b.typeIn("#editor input[name=name]", "huge")
			b.typeIn("#editor textarea[name=description]", "Too big to run")
			b.setValue("#editor textarea[name=spec]", "image: debian:bookworm\n")
			b.typeIn("#editor input[name=compute_units]", "-5")
			b.click("#editor button[type=submit]")
			const fieldErr = `#editor label:has(> input[name=compute_units]) > input + .field-error`
			if got := b.text(fieldErr); got != "Compute units must be from 0 to 1000000, not -5" {
				t.Fatalf("next to Compute units: %q", got)
			}
			described := eval[bool](b, "aria", `(() => { const i = document.querySelector('#editor input[name=compute_units]');
				const p = document.querySelector('#editor .field-error');
				return i.getAttribute('aria-invalid') === 'true' && i.getAttribute('aria-describedby').split(' ').includes(p.id) && document.activeElement === i; })()`)
			if !described {
				t.Error("the field is not marked invalid, described by its error and focused")
			}
			kept := eval[[]string](b, "values", `['input[name=name]', 'textarea[name=description]', 'textarea[name=spec]', 'input[name=compute_units]'].map(s => document.querySelector('#editor ' + s).value)`)
			if want := []string{"huge", "Too big to run", "image: debian:bookworm\n", "-5"}; fmt.Sprint(kept) != fmt.Sprint(want) {
				t.Errorf("the form holds %q, want %q", kept, want)
			}
			b.screenshots(shots, "template-field-error")
			b.checkAccessibility("/templates with a field error")
			b.typeIn("#editor input[name=compute_units]", "2")
			b.click("#editor button[type=submit]")
			b.visible(`#templates tr[data-name="huge"]`)
		}},
		{"NewSpaceDialogChoosesATemplateAndAnEmptyNameIsMissing", func(t *testing.T) {
			b.open("/spaces")
			b.visible(`main[aria-busy="false"]`)
			b.click("#new-space")
			b.visible("#editor")
			if got := eval[string](b, "chosen template", `(() => { const s = document.querySelector('#editor select[name=template_id]'); return s.selectedOptions.length ? s.selectedOptions[0].textContent : ''; })()`); got == "" {
				t.Error("the New space dialog opens with no template chosen")
			}
			b.click("#editor button[type=submit]")
			const fieldErr = `#editor label:has(> input[name=name]) > input + .field-error`
			if got := b.text(fieldErr); got != "Name is required" {
				t.Errorf("next to an empty Name: %q", got)
			}
			b.do("close the dialog", chromedp.KeyEvent(kb.Escape))
		}},
		{"FieldNamesReadAsTheFormSaysThem", func(t *testing.T) {
			b.open("/users")
			b.visible(`#users tr[data-name="ann"]`) // the roles are loaded
			b.click("#new-user")
			b.visible(`#user-roles input[name=roles]`)
			b.visible("#editor")
			got := value(b, "humanize", chromedp.Evaluate[[]string](`import('/ui/static/js/feedback.js').then(m => {
				const f = document.getElementById('editor-form');
				return ['roles: role x does not exist', 'current_password is required to change your own password or email',
					'max_spaces must be from 0 to 1000000, not -1', 'a user named ann already exists']
					.map(msg => m.humanize(f, msg) + ' @' + (m.fieldOf(f, msg)?.name || ''));
			})`, chromedp.EvalAwaitPromise))
			want := []string{"Roles: role x does not exist @roles",
				"Current password is required to change your own password or email @current_password",
				"Max spaces must be from 0 to 1000000, not -1 @max_spaces",
				"A user named ann already exists @"}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("messages read\n%q, want\n%q", got, want)
			}
			b.click("#editor button.cancel")
		}},
		{"UnknownPageIsHTMLWithALinkHome", func(t *testing.T) {
			for _, p := range []string{"/no/such/page", "/spaces/nope/more"} {
				res, err := http.Get(base + p)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusNotFound || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
					!strings.Contains(string(body), `<a href="/">`) || res.Header.Get("Content-Security-Policy") == "" {
					t.Errorf("GET %s = %d %s CSP %q:\n%s", p, res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Security-Policy"), body)
				}
			}
			res, err := http.Get(base + "/api/no/such/thing")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusNotFound || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
				t.Errorf("GET /api/no/such/thing = %d %s, want a JSON 404", res.StatusCode, res.Header.Get("Content-Type"))
			}
			b.open("/no/such/page")
			if h := b.text("h1"); !strings.Contains(h, "404") {
				t.Errorf("heading %q", h)
			}
			b.screenshots(shots, "not-found")
			b.click(`main a[href="/"]`)
			b.waitPath("/spaces")
		}},
		{"UserLandsOnAPageTheyMaySee", func(t *testing.T) {
			u := newTab(t, base)
			u.open("/users")
			u.waitPath("/login?redirect=%2Fusers")
			u.login("ann@example.com", password, "/spaces")
			u.visible(`main[aria-busy="false"]`)
			if n := eval[int](u, "refusals", `document.querySelectorAll('.refusal').length`); n != 0 {
				t.Error("ann lands on a refusal")
			}
			// A page the user may see is still where the login returns to.
			u.click("#logout")
			u.waitPath("/login")
			u.open("/templates")
			u.waitPath("/login?redirect=%2Ftemplates")
			u.login("ann@example.com", password, "/templates")
		}},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			b.t = t
			s.fn(t)
		})
		if !ok {
			return
		}
	}
}
