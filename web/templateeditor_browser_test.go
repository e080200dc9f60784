package web_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/web"
)

// The template editor in Chromium: a spec typed with a mistake is checked
// by the server as it is typed and its error shown at the line that is
// wrong, beside it; Escape and Cancel ask before they drop what was typed,
// and the text stays; once fixed, it saves.
func TestTemplateEditorInBrowser(t *testing.T) {
	base := startUIServer(t, func(o *web.TestOptions) { o.ValidateTemplate = runtime.ValidateTemplate })
	b := newTab(t, base)
	shots := t.TempDir()
	if dir := os.Getenv("KNOT_UI_SCREENSHOTS"); dir != "" {
		t.Logf("screenshots in %s and %s", shots, dir)
	}
	b.setUpAdmin("a-long-password")
	b.open("/templates")
	b.click("#new-template")
	b.visible("#editor")
	b.typeIn("#editor input[name=name]", "debian")
	if !eval[bool](b, "the ways into spaces", `document.querySelector('#editor input[name=with_terminal]').checked && document.querySelector('#editor input[name=with_ssh]').checked`) {
		t.Fatal("a new template's terminal and SSH boxes are not checked")
	}
	// An empty spec shows an example of its kind, one the server accepts.
	for _, kind := range []string{"nomad", "container"} {
		eval[bool](b, "choose the kind", fmt.Sprintf(`(() => { const s = document.querySelector('#editor select[name=kind]'); s.value = %q; s.dispatchEvent(new Event('change')); return true; })()`, kind))
		example := eval[string](b, "example", `document.querySelector('#editor textarea[name=spec]').placeholder`)
		if !strings.HasPrefix(example, "# For example:\n") {
			t.Errorf("the empty %s spec shows %q, not an example", kind, example)
			continue
		}
		r := b.fetch("POST", "/api/templates/validate", map[string]string{"name": "example", "kind": kind, "spec": example}, true)
		if r.Status != http.StatusOK || !strings.Contains(r.Body, `"valid":true`) {
			t.Errorf("the %s example is refused: %d %s\n%s", kind, r.Status, r.Body, example)
		}
	}

	// The colours: what each piece of a line is taken for.
	got := value(b, "tokens", chromedp.Evaluate[string](`import('/ui/static/js/codeeditor.js').then(({ tokens }) => JSON.stringify([
		tokens('yaml', 'image: debian:12  # the base'),
		tokens('yaml', '  - "HOME=${{ .user.username }}"'),
		tokens('yaml', 'privileged: true'),
		tokens('hcl', 'job "dev" {'),
		tokens('hcl', '  count = 2 // one'),
	]))`, chromedp.EvalAwaitPromise))
	want := `[[["key","image:"],["plain"," debian:12  "],["comment","# the base"]],` +
		`[["punct","  -"],["plain"," "],["string","\"HOME=${{ .user.username }}\""]],` +
		`[["key","privileged:"],["plain"," "],["atom","true"]],` +
		`[["block","job"],["plain"," "],["string","\"dev\""],["plain"," "],["punct","{"]],` +
		`[["key","  count"],["plain"," "],["punct","="],["plain"," "],["number","2"],["plain"," "],["comment","// one"]]]`
	if got != want {
		t.Errorf("tokens:\n got %s\nwant %s", got, want)
	}

	// Line 4 is one space short: yaml.v3 alone would name line 2.
	const bad = "image: debian:12\nauth:\n  username: robot\n password: secret\nnetwork: host\n"
	b.do("type the spec", chromedp.SendKeys(chromedp.CSS("#editor textarea[name=spec]"), bad))
	b.do("wait for the mark at line 4", chromedp.Poll[chromedp.Void](`document.querySelector('#editor .ce-message')?.dataset.line === '4'`,
		chromedp.WithPollingTimeout(stepTimeout)))
	msg := b.text("#editor .ce-message")
	if !strings.HasPrefix(msg, "Line 4: did not find expected key") {
		t.Fatalf("the message below the editor is %q", msg)
	}
	// The parser's words are terse: the message says what they mean.
	if !strings.Contains(msg, "this line is not indented like the lines of its block") {
		t.Errorf("the message below the editor does not say what the parser means: %q", msg)
	}
	marked := eval[[]string](b, "the marked line", `[
		[...document.querySelectorAll('#editor .ce-num.ce-bad')].map(n => n.textContent).join(','),
		document.querySelectorAll('#editor .ce-line')[3].classList.contains('ce-bad') ? 'bad' : 'fine',
		document.querySelector('#editor .ce-note-text')?.dataset.line + ' ' + document.querySelector('#editor .ce-note-text')?.textContent,
		document.querySelector('#editor textarea[name=spec]').getAttribute('aria-invalid') || '',
	]`)
	if marked[0] != "4" || marked[1] != "bad" || !strings.HasPrefix(marked[2], "4 did not find expected key") || marked[3] != "true" {
		t.Fatalf("marked: numbers %q, line 4 %s with the note %q, aria-invalid %q", marked[0], marked[1], marked[2], marked[3])
	}
	b.screenshots(shots, "template-editor-error")
	noteBesideCode(t, b, shots, bad)

	specIs := func(when string) {
		t.Helper()
		got := eval[string](b, "the spec", `document.querySelector('#editor textarea[name=spec]').value`)
		open := eval[bool](b, "the editor", `document.querySelector('#editor').open`)
		if got != bad || !open {
			t.Fatalf("%s: the editor is open: %v, the spec %q", when, open, got)
		}
	}
	// The question is open, or closed and answered.
	confirmOpen := func(want bool) {
		t.Helper()
		b.do(fmt.Sprintf("the question is open: %v", want), chromedp.Poll[chromedp.Void](
			fmt.Sprintf(`document.querySelector('#confirm-dialog').open === %v && (%v || !document.querySelector('#editor').dataset.asking)`, want, want),
			chromedp.WithPollingTimeout(stepTimeout)))
	}
	b.do("focus the spec and press Escape", chromedp.Focus(chromedp.CSS("#editor textarea[name=spec]")), chromedp.KeyEvent(kb.Escape))
	confirmOpen(true)
	if q := b.text("#confirm-message"); q != "Discard your changes to this template?" {
		t.Fatalf("the question is %q", q)
	}
	specIs("Escape")
	b.do("press Escape in the question", chromedp.KeyEvent(kb.Escape))
	confirmOpen(false)
	specIs("Escape in the question")
	b.do("press Escape twice more", chromedp.Focus(chromedp.CSS("#editor textarea[name=spec]")), chromedp.KeyEvent(kb.Escape))
	confirmOpen(true)
	b.click("#confirm-cancel")
	confirmOpen(false)
	b.do("press Escape again", chromedp.Focus(chromedp.CSS("#editor textarea[name=spec]")), chromedp.KeyEvent(kb.Escape))
	confirmOpen(true)
	b.click("#confirm-cancel")
	confirmOpen(false)
	specIs("Escape, Escape")
	b.click("#editor button.cancel")
	confirmOpen(true)
	b.click("#confirm-cancel")
	confirmOpen(false)
	specIs("Cancel")

	// Saving with the error is refused at its line; fixed, it saves.
	// The refusal is said once, under the spec at its line, not again in
	// another place.
	b.click("#editor button[type=submit]")
	b.do("wait for the refusal", chromedp.Poll[chromedp.Void](`document.querySelector('#editor .ce-message')?.textContent.startsWith('Not saved.')`,
		chromedp.WithPollingTimeout(stepTimeout)))
	if e := b.text("#editor .ce-message"); !strings.HasPrefix(e, "Not saved. Line 4: did not find expected key") {
		t.Fatalf("the refused save says %q", e)
	}
	if n := eval[int](b, "other errors", `[...document.querySelectorAll('#editor .field-error, #editor form > .error')].filter(e => !e.hidden && e.textContent).length`); n != 0 {
		t.Fatalf("the refused save is said in %d more places", n)
	}
	specIs("a refused save")
	b.setValue("#editor textarea[name=spec]", strings.Replace(bad, "\n password", "\n  password", 1))
	b.do("type at the end", chromedp.SendKeys(chromedp.CSS("#editor textarea[name=spec]"), "privileged: false\n"))
	b.do("wait for the check to pass", chromedp.Poll[chromedp.Void](`document.querySelector('#spec-check').textContent.startsWith('Checked')`,
		chromedp.WithPollingTimeout(stepTimeout)))
	if n := eval[int](b, "marks", `document.querySelectorAll('#editor .ce-bad').length`); n != 0 {
		t.Fatalf("%d marks remain after the fix", n)
	}
	// Once fixed, the editor says only the newer answer, under the spec
	// (not under the volumes, as if it were about them).
	if said := eval[string](b, "the editor's text", `document.querySelector('#editor').innerText`); strings.Contains(strings.ToLower(said), "not saved") {
		t.Fatalf("the refusal stays after the fix:\n%s", said)
	}
	where := eval[[]bool](b, "where the check says", `(() => {
		const check = document.querySelector('#spec-check');
		const spec = document.querySelector('#editor textarea[name=spec]');
		const volumes = document.querySelector('#editor textarea[name=volumes]');
		return [!!(spec.compareDocumentPosition(check) & Node.DOCUMENT_POSITION_FOLLOWING),
			!!(check.compareDocumentPosition(volumes) & Node.DOCUMENT_POSITION_FOLLOWING)];
	})()`)
	if !where[0] || !where[1] {
		t.Fatalf("the check's answer is not between the spec and the volumes: after the spec %v, before the volumes %v", where[0], where[1])
	}
	b.click("#editor button[type=submit]")
	b.visible(`#templates tr[data-name="debian"]`)
	b.do("the editor closes", chromedp.Poll[chromedp.Void](`!document.querySelector('#editor').open`, chromedp.WithPollingTimeout(stepTimeout)))

	// Opened again, nothing is changed: Escape closes at once, and the
	// editor lists the spaces made from the template.
	b.click(`#templates tr[data-name="debian"] button[data-action=edit]`)
	b.visible("#template-spaces")
	if s := b.text("#template-spaces-count"); !strings.HasPrefix(s, "None yet") {
		t.Fatalf("the spaces of a new template: %q", s)
	}
	b.do("wait for the check", chromedp.Poll[chromedp.Void](`document.querySelector('#spec-check').textContent.startsWith('Checked')`,
		chromedp.WithPollingTimeout(stepTimeout)))
	b.screenshot(shots, "template-editor.png")
	b.do("press Escape", chromedp.Focus(chromedp.CSS("#editor textarea[name=spec]")), chromedp.KeyEvent(kb.Escape))
	b.do("the editor closes", chromedp.Poll[chromedp.Void](`!document.querySelector('#editor').open && !document.querySelector('#confirm-dialog').open`,
		chromedp.WithPollingTimeout(stepTimeout)))
}

// noteWrong is a script: where the note of the marked line of the spec
// is wrong: past the editor's edges, over the text typed (the textarea's
// box), at another height than the line's beside the code, or not under
// the code and above the message below the editor in a narrow editor;
// then the note's width and height.
const noteWrong = `(() => {
	const out = [];
	const editor = document.querySelector('#editor .code-editor').getBoundingClientRect();
	const text = document.querySelector('#editor textarea[name=spec]').getBoundingClientRect();
	const note = document.querySelector('#editor .ce-note-text');
	const n = note.getBoundingClientRect();
	const line = document.querySelectorAll('#editor .ce-line')[note.dataset.line - 1].getBoundingClientRect();
	const below = document.querySelector('#editor .ce-message').getBoundingClientRect();
	if (!note.checkVisibility() || n.width === 0) out.push('not shown');
	if (n.left < editor.left - 0.5 || n.right > editor.right + 0.5) out.push('past the editor: ' + n.left + '..' + n.right + ' in ' + editor.left + '..' + editor.right);
	if (n.right > text.left + 0.5 && n.left < text.right - 0.5 && n.bottom > text.top + 0.5 && n.top < text.bottom - 0.5) out.push('over the text typed');
	if (n.left >= text.right - 0.5) {
		if (Math.abs(n.top - line.top) > line.height) out.push('at ' + n.top + ', the line at ' + line.top);
	} else if (n.top < text.bottom - 0.5 || n.bottom > below.top + 0.5) {
		out.push('neither beside the code nor between it and the message below');
	}
	return [...out, Math.round(n.width) + 'x' + Math.round(n.height)];
})()`

// noteBesideCode checks, on a desktop and at a phone's 390 px, that the
// note of the marked line of spec stays within the editor and off the text
// typed, and wraps there, with the line short and long: then it puts spec
// back.
func noteBesideCode(t *testing.T, b *tab, shots, spec string) {
	t.Helper()
	long := strings.Replace(spec, " password: secret", " password: "+strings.Repeat("a-long-secret-", 12), 1)
	for i, text := range []string{spec, long} {
		b.setValue("#editor textarea[name=spec]", text)
		eval[bool](b, "the spec typed", `document.querySelector('#editor textarea[name=spec]').dispatchEvent(new Event('input')) || true`)
		b.pollUntil("the mark at line 4", `document.querySelector('#editor .ce-note-text')?.dataset.line === '4' && !document.querySelector('#editor .ce-note').hidden && document.querySelector('#editor textarea[name=spec]').value.length === `+fmt.Sprint(len(text)), stepTimeout)
		for _, w := range []int64{1280, 390} {
			b.do(fmt.Sprintf("%d px", w), chromedp.EmulateViewport(w, 900))
			// The caret at the end of the marked line, as while typing it,
			// scrolls the text sideways.
			eval[bool](b, "the caret at the end of line 4", `(() => { const a = document.querySelector('#editor textarea[name=spec]'); const end = a.value.split('\n').slice(0, 4).join('\n').length; a.focus(); a.setSelectionRange(end, end); a.scrollLeft = a.scrollWidth; a.dispatchEvent(new Event('scroll')); return true; })()`)
			b.screenshot(shots, fmt.Sprintf("template-editor-note-%s-%d.png", []string{"short", "long"}[i], w))
			got := eval[[]string](b, "where the note is", noteWrong)
			for _, wrong := range got[:len(got)-1] {
				t.Errorf("at %d px, with line 4 %d characters long, the note of the marked line is %s", w, len(strings.Split(text, "\n")[3]), wrong)
			}
		}
	}
	b.do("desktop width", chromedp.EmulateViewport(1280, 900))
	b.setValue("#editor textarea[name=spec]", spec)
	eval[bool](b, "the spec typed", `document.querySelector('#editor textarea[name=spec]').dispatchEvent(new Event('input')) || true`)
}
