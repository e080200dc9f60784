package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared/testenv"
)

// knotProc is a knot server process of the static binary, whose log it
// keeps.
type knotProc struct {
	base           string
	cmd            *exec.Cmd
	done           chan error // the exit, once
	testenv.Buffer            // its log
}

var knotListenRe = regexp.MustCompile(`listen=(http://127\.0\.0\.1:\d+)`)

// startDockerKnot starts a private dockerd and a standalone knot server on
// it, listening on loopback, and returns the engine and the server.
func startDockerKnot(t *testing.T) (*runtimetest.Engine, *knotProc) {
	t.Helper()
	e := startDocker(t)
	return e, startKnotServer(t, e.Knot(t), t.TempDir(), "--listen", "127.0.0.1:0", "--listen-agent", "127.0.0.1:0",
		"--memorydb-enabled", "--location", "here", "--docker-host", e.Host)
}

// startDocker starts a private dockerd for a browser test, which needs
// Chromium too.
func startDocker(t *testing.T) *runtimetest.Engine {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a container engine")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Missing(t, "chromium", err)
	}
	e, err := runtimetest.StartDocker(context.Background())
	if err != nil {
		testenv.Missing(t, "docker", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// startKnotServer runs bin server with args in dir, without the KNOT_*
// variables of the tests' environment, and waits until it serves. The
// test's end stops it, if stop has not.
func startKnotServer(t *testing.T, bin, dir string, args ...string) *knotProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"server"}, args...)...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KNOT_") && !strings.HasPrefix(kv, "DOCKER_HOST=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	k := &knotProc{cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(k, sc.Text())
			if m := knotListenRe.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		k.done <- cmd.Wait()
	}()
	t.Cleanup(func() { k.stop() })
	select {
	case k.base = <-addr:
	case err := <-k.done:
		k.done <- err
		t.Fatalf("knot server exited before serving: %v\n%s", err, k)
	case <-time.After(60 * time.Second):
		t.Fatalf("knot server did not serve within 60 s:\n%s", k)
	}
	return k
}

// stop ends the server with SIGTERM (SIGKILL after 30 s) and waits for it;
// it returns how it exited. Stopping a stopped server returns at once.
func (k *knotProc) stop() error {
	k.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case err = <-k.done:
	case <-time.After(30 * time.Second):
		k.cmd.Process.Kill()
		err = <-k.done
	}
	k.done <- err
	return err
}

// pollUntil polls the script cond in the page every 100 ms until it is true,
// for up to d.
func (b *tab) pollUntil(what, cond string, d time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d+stepTimeout)
	defer cancel()
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool]("Boolean("+cond+")",
			chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(100*time.Millisecond)))
		if err == nil {
			return
		}
		if ctx.Err() != nil || !navigating(err) {
			b.t.Fatalf("%s: not within %s: %v%s", what, d, err, b.state())
		}
	}
}

// typeInTerminal types line and Enter into the page's terminal as a
// keyboard does: a key down that carries the character's text, then its
// key up. (chromedp's SendKeys adds a separate char event to each key,
// which a terminal reads twice.)
func (b *tab) typeInTerminal(line string) {
	b.t.Helper()
	var keys []input.DispatchKeyEventParams
	press := func(k input.DispatchKeyEventParams) {
		down, up := k, k
		down.Type, up.Type = input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp
		up.Text, up.UnmodifiedText = "", ""
		keys = append(keys, down, up)
	}
	for _, r := range line {
		press(input.DispatchKeyEventParams{Key: string(r), Text: string(r), UnmodifiedText: string(r)})
	}
	press(input.DispatchKeyEventParams{Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, Text: "\r", UnmodifiedText: "\r"})
	b.do("type "+line+" in the terminal",
		chromedp.Focus(chromedp.CSS("#terminal .xterm-helper-textarea")),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			for _, k := range keys {
				if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, k); err != nil {
					return err
				}
			}
			return nil
		}))
}

// TestSpacePageInBrowser opens a running busybox space's page on a real
// Docker engine: its state and agent, a command typed into its terminal
// and its output read from the page, the same output again after a reload
// (the page reattaches to the kept session), its log, a failed space's
// reason, and the page refused to another user.
func TestSpacePageInBrowser(t *testing.T) {
	e, k := startDockerKnot(t)
	defer func() {
		if t.Failed() {
			t.Logf("server log:\n%s", k)
		}
	}()
	const password = "a-long-password"
	b := newTab(t, k.base)
	shots := t.TempDir()

	b.setUpAdmin(password)

	mustJSON := func(r fetchResult, want int, v any) {
		t.Helper()
		if r.Status != want {
			t.Fatalf("= %d %s, want %d", r.Status, r.Body, want)
		}
		if v != nil {
			if err := json.Unmarshal([]byte(r.Body), v); err != nil {
				t.Fatal(err)
			}
		}
	}
	var tpl, broken struct {
		ID string `json:"template_id"`
	}
	mustJSON(b.fetch("POST", "/api/templates", map[string]string{
		"name": "box", "kind": "container", "spec": "image: " + e.Image + "\nnetwork: host\n"}, true), http.StatusCreated, &tpl)
	mustJSON(b.fetch("POST", "/api/templates", map[string]string{
		"name": "nowhere", "kind": "container", "spec": "image: " + runtimetest.MissingImage + "\nnetwork: host\n"}, true), http.StatusCreated, &broken)
	var sp, bad struct {
		ID string `json:"space_id"`
	}
	mustJSON(b.fetch("POST", "/api/spaces", map[string]string{"name": "dev", "template_id": tpl.ID}, true), http.StatusCreated, &sp)
	mustJSON(b.fetch("POST", "/api/spaces", map[string]string{"name": "broken", "template_id": broken.ID}, true), http.StatusCreated, &bad)
	page := "/spaces/" + sp.ID
	// The steps run one after another; after a failure the rest would only
	// fail for it.
	failed := false
	step := func(name string, fn func(t *testing.T)) {
		if failed {
			return
		}
		failed = !t.Run(name, func(t *testing.T) {
			b.t = t
			fn(t)
		})
	}

	step("ListLinksToThePage", func(t *testing.T) {
		b.open("/spaces")
		b.click(`#spaces tr[data-name="dev"] .name a`)
		b.waitPath(page)
		b.visible(`#space[data-state="stopped"]`)
	})

	step("StartShowsStateAndAgent", func(t *testing.T) {
		// What the state shows while the space starts, as it changes.
		eval[bool](b, "watch the progress", `(() => {
			window.progressShown = [];
			const p = document.querySelector('#state-progress');
			new MutationObserver(() => { if (!p.hidden) window.progressShown.push(p.textContent); })
				.observe(document.querySelector('#space-state'), { subtree: true, attributes: true, childList: true, characterData: true });
			return true;
		})()`)
		b.click(`#space-actions button[data-action="start"]`)
		b.pollUntil("the space runs with its agent", `document.querySelector('#space').dataset.state === 'running' &&
			document.querySelector('#space-agent').textContent.startsWith('Connected')`, 90*time.Second)
		var api struct {
			State string
			Agent struct {
				Connected bool
				Version   string
			}
		}
		mustJSON(b.fetch("GET", "/api/spaces/"+sp.ID, nil, false), http.StatusOK, &api)
		if !api.Agent.Connected || api.Agent.Version == "" {
			t.Fatalf("the API says the agent is %+v", api.Agent)
		}
		if got, want := b.text("#space-agent"), "Connected, version "+api.Agent.Version; got != want {
			t.Errorf("agent shown as %q, want %q", got, want)
		}
		if got := b.text("#state-badge"); got != api.State || got != "running" {
			t.Errorf("state shown as %q, the API says %q", got, api.State)
		}
		if shown := eval[[]string](b, "progress", `window.progressShown`); len(shown) == 0 || !slices.Contains(shown, "starting…") {
			t.Errorf("while starting, the page showed %q, not starting…", shown)
		}
		if !eval[bool](b, "progress gone", `document.querySelector('#state-progress').hidden`) {
			t.Error("a running space still shows progress")
		}
		if got := b.text("#template-name"); got != "box" {
			t.Errorf("template shown as %q", got)
		}
		if got := b.text("#ssh-host"); got != "knot.dev" {
			t.Errorf("SSH host shown as %q", got)
		}
		if label := eval[string](b, "stop's name", `document.querySelector('#space-actions button[data-action="stop"]').getAttribute('aria-label')`); label != "Stop dev" {
			t.Errorf("the Stop button is named %q", label)
		}
	})

	step("TerminalRunsACommand", func(t *testing.T) {
		b.pollUntil("the terminal opens a session", `document.querySelector('#terminal').dataset.session`, 30*time.Second)
		if eval[bool](b, "agent advice", `document.getElementById('agent-howto').checkVisibility()`) {
			t.Error("the page of a container space with its agent linked tells how to run the agent")
		}
		// A person learns that a reload does not lose the session.
		if got := b.text("#terminal-status"); !strings.Contains(got, "stays open for a while when you reload") {
			t.Errorf("a new session's status says %q", got)
		}
		b.typeInTerminal("echo ui-$((6*7))-done")
		b.pollUntil("the command's output shows", `document.querySelector('#terminal .xterm-rows').textContent.includes('ui-42-done')`, 20*time.Second)
		// The space's shell, bash, is not in this busybox image: the
		// terminal's first line says which shell runs, and so does the page.
		const runs = "knot: bash is not installed in this space; running /bin/sh"
		if first := eval[string](b, "the terminal's first line", `document.querySelector('#terminal .xterm-rows').firstElementChild.textContent.replace(/\u00a0/g, ' ').trimEnd()`); first != runs {
			t.Errorf("the terminal's first line is %q, want %q", first, runs)
		}
		b.pollUntil("the page says which shell runs", `document.querySelector('#space-shell').textContent === 'bash (not in the image: the terminal runs /bin/sh)'`, 10*time.Second)
		// xterm styles the terminal through <style> elements, which the
		// page's Content-Security-Policy does not apply: the page gives
		// their rules to the browser another way, and the theme's colour
		// shows.
		if color := eval[string](b, "text colour", `getComputedStyle(document.querySelector('#terminal .xterm-rows')).color`); color != "rgb(228, 231, 236)" {
			t.Errorf("the terminal's text is %s, not the theme's rgb(228, 231, 236)", color)
		}
		b.screenshots(shots, "space")
		b.checkAccessibility("the space page with its terminal")
	})

	step("ReloadReattachesWithTheOutput", func(t *testing.T) {
		before := eval[string](b, "session", `document.querySelector('#terminal').dataset.session`)
		// With its agent connected, the list offers the space's terminal.
		b.open("/spaces")
		b.visible(`#spaces tr[data-name="dev"][data-state="running"] a[href$="#terminal-title"]`)
		b.open(page)
		b.pollUntil("the page reattaches", `document.querySelector('#terminal-status').textContent.startsWith('Reattached')`, 30*time.Second)
		if after := eval[string](b, "session", `document.querySelector('#terminal').dataset.session`); after != before {
			t.Fatalf("reattached to session %q, not %q", after, before)
		}
		b.pollUntil("the earlier output is replayed", `document.querySelector('#terminal .xterm-rows').textContent.includes('ui-42-done')`, 20*time.Second)
		b.pollUntil("the page says which shell runs", `document.querySelector('#space-shell').textContent === 'bash (not in the image: the terminal runs /bin/sh)'`, 10*time.Second)
		b.typeInTerminal("echo again-$((2+3))")
		b.pollUntil("its output shows", `document.querySelector('#terminal .xterm-rows').textContent.includes('again-5')`, 20*time.Second)
	})

	step("ExitEndsTheSessionAndANewOneOpens", func(t *testing.T) {
		before := eval[string](b, "session", `document.querySelector('#terminal').dataset.session`)
		b.typeInTerminal("exit")
		b.pollUntil("the page says the session ended", `document.querySelector('#terminal-status').textContent === 'The session ended with exit code 0.'`, 20*time.Second)
		b.click("#terminal-new")
		b.pollUntil("a new session opens", fmt.Sprintf(`(document.querySelector('#terminal').dataset.session || %q) !== %q && document.querySelector('#terminal-status').textContent.startsWith('Session ')`, before, before), 20*time.Second)
	})

	step("EscapeAndTabLeaveTheTerminal", func(t *testing.T) {
		b.do("press Escape and Tab in the terminal",
			chromedp.Focus(chromedp.CSS("#terminal .xterm-helper-textarea")),
			chromedp.KeyEvent(kb.Escape), chromedp.KeyEvent("\t"))
		if inside := eval[bool](b, "focus", `document.querySelector('#terminal').contains(document.activeElement)`); inside {
			t.Fatal("the focus stayed in the terminal")
		}
	})

	step("LogsFollowTheSpace", func(t *testing.T) {
		var logs struct{ Entries []struct{ Text string } }
		mustJSON(b.fetch("GET", "/api/spaces/"+sp.ID+"/logs", nil, false), http.StatusOK, &logs)
		if len(logs.Entries) == 0 {
			t.Fatal("the space has no log")
		}
		last := logs.Entries[len(logs.Entries)-1].Text
		b.pollUntil("the log shows its last line", fmt.Sprintf(`document.querySelector('#logs').textContent.includes(%q)`, last), 15*time.Second)
		b.pollUntil("the log is followed", `document.querySelector('#logs-status').textContent === 'Following the log.'`, 15*time.Second)
	})

	step("EditChangesTheDescription", func(t *testing.T) {
		b.click(`#space-actions button[data-action="edit"]`)
		b.typeIn("#editor textarea[name=description]", "my busybox")
		b.click("#editor button[type=submit]")
		b.pollUntil("the description shows", `document.querySelector('#space-description').textContent === 'my busybox'`, stepTimeout)
	})

	step("RestartDeploysTheChangedTemplate", func(t *testing.T) {
		spec := "image: " + e.Image + "\nnetwork: host\nenvironment:\n  - GREETING=hello\n"
		mustJSON(b.fetch("PUT", "/api/templates/"+tpl.ID, map[string]string{"spec": spec}, true), http.StatusOK, nil)
		b.pollUntil("the page offers the update", `!document.querySelector('#update-badge').hidden`, stepTimeout)
		if got := b.text("#update-badge"); !strings.Contains(got, "restart to update") {
			t.Errorf("the update is shown as %q", got)
		}
		before := eval[string](b, "session", `document.querySelector('#terminal').dataset.session`)
		b.click(`#space-actions button[data-action="restart"]`)
		b.pollUntil("the space runs the new template with its agent", fmt.Sprintf(`document.querySelector('#space').dataset.state === 'running' &&
			document.querySelector('#update-badge').hidden &&
			document.querySelector('#space-agent').textContent.startsWith('Connected') &&
			(document.querySelector('#terminal').dataset.session || %q) !== %q`, before, before), 90*time.Second)
		b.typeInTerminal("echo $GREETING-there")
		b.pollUntil("the new environment shows", `document.querySelector('#terminal .xterm-rows').textContent.includes('hello-there')`, 20*time.Second)
	})

	step("AnotherUserIsRefused", func(t *testing.T) {
		mustJSON(b.fetch("POST", "/api/users", map[string]any{"username": "ann", "email": "ann@example.com", "password": password}, true), http.StatusCreated, nil)
		u := newTab(t, k.base)
		u.open(page)
		u.waitPath("/login?redirect=" + strings.ReplaceAll(page, "/", "%2F"))
		u.typeIn("#login-form input[name=email]", "ann@example.com")
		u.typeIn("#login-form input[name=password]", password)
		u.click("#login-form button[type=submit]")
		u.waitPath(page)
		if msg := u.text("main"); !strings.Contains(msg, "not found") {
			t.Errorf("ann sees %q", msg)
		}
		if r := u.fetch("GET", page, nil, false); r.Status != http.StatusNotFound {
			t.Errorf("GET %s as another user = %d", page, r.Status)
		}
		if r := u.fetch("GET", "/api/spaces/"+sp.ID+"/terminal", nil, false); r.Status != http.StatusNotFound {
			t.Errorf("the terminal's sessions as another user = %d %s", r.Status, r.Body)
		}
	})

	step("StopClosesTheTerminal", func(t *testing.T) {
		b.click(`#space-actions button[data-action="stop"]`)
		b.pollUntil("the space stops", `document.querySelector('#space').dataset.state === 'stopped'`, 60*time.Second)
		if got := b.text("#terminal-off"); got != "The terminal opens when the space runs. Below is the end of the last session, which ended." {
			t.Errorf("the terminal says %q", got)
		}
		// The last session's screen stays to be read, but does not look
		// usable: dimmed, out of the keyboard's way.
		if !eval[bool](b, "terminal marked ended", `(() => { const t = document.querySelector('#terminal'); return t.classList.contains('ended') && t.inert && getComputedStyle(t).opacity < 1 && !t.contains(document.activeElement); })()`) {
			t.Error("the ended session's terminal looks as usable as before")
		}
		if got := b.text("#space-agent"); got != "Not running" {
			t.Errorf("the agent of a stopped space shows as %q", got)
		}
		b.visible("#ssh-later")
	})

	step("FailureReasonInFull", func(t *testing.T) {
		b.open("/spaces/" + bad.ID)
		b.click(`#space-actions button[data-action="start"]`)
		b.pollUntil("the space fails", `document.querySelector('#space').dataset.state === 'failed'`, 60*time.Second)
		var api struct{ Reason string }
		mustJSON(b.fetch("GET", "/api/spaces/"+bad.ID, nil, false), http.StatusOK, &api)
		if api.Reason == "" {
			t.Fatal("the API gives no reason")
		}
		b.pollUntil("the reason shows in full", fmt.Sprintf(`document.querySelector('#reason-text').textContent === %q`, api.Reason), stepTimeout)
		if h := b.text("#space-reason h3"); h != "Why it failed" {
			t.Errorf("the reason is headed %q", h)
		}
		if got := b.text("#space-agent"); got != "Not running" {
			t.Errorf("the agent of a failed space shows as %q", got)
		}
		if got := b.text("#ssh-later"); got != "The space is not running: you can connect once it runs." {
			t.Errorf("the SSH section of a failed space says %q", got)
		}
		b.screenshots(shots, "space-failed")
	})
}
