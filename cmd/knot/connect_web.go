package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/crypt"
)

// useWebAuthFlag makes knot connect log in through the web UI in a
// browser, in place of a password login here: for a user who logs in
// through a browser only (a password manager, two-factor login on a
// phone).
var useWebAuthFlag = &cli.BoolFlag{
	Name:  "use-web-auth",
	Usage: "log in and approve this CLI in a browser, instead of logging in with a password here",
}

// pasteTokenFlag is --use-web-auth without a browser on this computer.
var pasteTokenFlag = &cli.BoolFlag{
	Name:  "paste-token",
	Usage: "with --use-web-auth: open no browser; create an API token on the web UI's tokens page (in a browser elsewhere) and paste it",
}

// useWebAuthHelp explains knot connect --use-web-auth.
const useWebAuthHelp = "With --use-web-auth knot asks for no password: it waits on a random port of 127.0.0.1 and opens\n" +
	"a browser ($BROWSER, else xdg-open or open; it prints the address too) at the server's page\n" +
	"/connect, where you log in (with two-factor login when the server uses it) and approve this CLI.\n" +
	"The browser comes back to knot with a one-time code, which knot exchanges, with a secret that\n" +
	"never left it, for an API token named \"knot connect <host name>\" that expires after 90 days; the\n" +
	"token is saved as a password login would save it (replacing, and deleting, one saved before).\n" +
	"No page or address shows the token. knot waits up to 5 minutes for the approval; when that\n" +
	"runs out, or on Ctrl-C, it saves nothing and exits with status 1. At a leaf, the leaf makes the\n" +
	"token at the origin, which must be reachable; the token works at the leaf and at the origin.\n" +
	"With --paste-token too, knot opens no browser: it prints the address of the web UI's API tokens\n" +
	"page, where you create a token, and reads the token you paste (without echo on a terminal;\n" +
	"otherwise the first line of standard input)."

// webAuthWait bounds how long knot connect waits for the browser; a
// variable so that package main's tests can shorten it.
var webAuthWait = 5 * time.Minute

// connectWebAuth is knot connect --use-web-auth.
func connectWebAuth(c *cli.Context, s streams, server, file string, ct *connectTLS) error {
	if c.IsSet("email") {
		return usagef(c, "--email is for a password login; with --use-web-auth you log in on the web page")
	}
	if c.IsSet("token-lifetime") {
		return usagef(c, "--token-lifetime is for a password login; with --use-web-auth the token lasts %d days, or as long as chosen on the tokens page with --paste-token",
			shared.ConnectTokenLifetime/(24*time.Hour))
	}
	if !c.Bool(pasteTokenFlag.Name) {
		return connectInBrowser(c.Context, s, c.App.Writer, server, file, ct)
	}
	fmt.Fprintf(s.stderr, "Open %s/tokens in a browser, log in, and create an API token (a name such as %q will do).\n", server, "knot client "+hostName())
	token, err := readPastedToken(s)
	if err != nil {
		return err
	}
	if strings.ContainsAny(token, " \t") {
		return errors.New("the pasted token contains spaces: paste the token alone, as the page shows it")
	}
	return finishConnect(c.Context, c.App.Writer, server, "", file, token, "the API token is saved in", ct)
}

// hostName is this computer's name, as tokens are named after it.
func hostName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "unknown host"
	}
	return host
}

// callback is the browser's visit to the CLI's /callback, waiting for
// the CLI to answer it.
type callback struct {
	query url.Values
	reply chan error
}

// connectInBrowser is the browser login (shared.ConnectRequest describes
// it): it listens on 127.0.0.1, opens the server's page /connect, and
// redeems the code the browser brings back for an API token, which it
// saves.
func connectInBrowser(ctx context.Context, s streams, out io.Writer, server, file string, ct *connectTLS) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1 for the browser: %w", err)
	}
	state, verifier := randomText(24), randomText(32)
	q := url.Values{
		"port":      {strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)},
		"state":     {state},
		"challenge": {shared.ConnectChallenge(verifier)},
		"host":      {hostName()},
	}
	page := server + "/connect?" + q.Encode()

	calls := make(chan callback)
	srv := &http.Server{Handler: callbackHandler(calls), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln) // returns when Shutdown closes ln
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-served
	}()

	fmt.Fprintf(s.stderr, "Log in and approve this CLI in your browser, at\n  %s\n", page)
	if err := openBrowser(page); err != nil {
		fmt.Fprintf(s.stderr, "No browser opened (%v): open the address above in a browser on this computer.\n", err)
	}
	fmt.Fprintf(s.stderr, "Waiting up to %v for the approval...\n", webAuthWait)
	wctx, cancel := context.WithTimeout(ctx, webAuthWait)
	defer cancel()
	select {
	case cb := <-calls:
		err := redeemCallback(ctx, out, cb.query, state, verifier, server, file, ct)
		cb.reply <- err
		return err
	case <-wctx.Done():
		if ctx.Err() != nil {
			return errors.New("interrupted while waiting for the approval in the browser; nothing was saved")
		}
		return fmt.Errorf("no approval came from the browser within %v; nothing was saved: run knot connect --use-web-auth again", webAuthWait)
	}
}

// redeemCallback checks what the browser brought back (query), redeems
// the code and saves the token; the token saved before for server, if
// any, is deleted.
func redeemCallback(ctx context.Context, out io.Writer, query url.Values, state, verifier, server, file string, ct *connectTLS) error {
	if !crypt.Equal(query.Get("state"), state) {
		return errors.New("the browser came back with a state this knot connect did not send: the callback was not the server's answer; nothing was saved")
	}
	switch e := query.Get("error"); {
	case e == "access_denied":
		return errors.New("the request was denied in the browser; nothing was saved")
	case e != "":
		return fmt.Errorf("the browser came back with the error %q; nothing was saved", e)
	case query.Get("code") == "":
		return errors.New("the browser came back without a code; nothing was saved")
	}
	anon, err := newClient(server, "", ct.config)
	if err != nil {
		return err
	}
	tok, err := anon.Auth().ConnectToken(ctx, api.ConnectTokenRequest{Code: query.Get("code"), Verifier: verifier})
	if err != nil {
		return fmt.Errorf("redeem the code: %w", err)
	}
	if tok.Token == "" {
		return fmt.Errorf("%s answered without the new token", server)
	}
	cl, err := newClient(server, tok.Token, ct.config)
	if err != nil {
		return err
	}
	var saved *savedTokenInfo
	if mine, err := cl.Tokens().List(ctx); err == nil {
		saved = savedToken(file, server, mine)
	}
	if err := finishConnect(ctx, out, server, "", file, tok.Token, "the API token is saved in", ct); err != nil {
		return err
	}
	if saved != nil && saved.ID != tok.TokenID {
		if err := cl.Tokens().Delete(ctx, saved.ID); err != nil {
			fmt.Fprintf(out, "The API token it replaces, %q, could not be deleted: %v\n", saved.Name, err)
		}
	}
	return nil
}

// callbackHandler serves the CLI's /callback: it hands the first visit to
// the CLI on calls and shows the browser the outcome. Other visits are
// told that this knot connect is no longer waiting.
func callbackHandler(calls chan<- callback) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		cb := callback{query: r.URL.Query(), reply: make(chan error, 1)}
		select {
		case calls <- cb:
		default:
			callbackPage(w, http.StatusConflict, "This knot connect is no longer waiting for the browser.")
			return
		}
		if err := <-cb.reply; err != nil {
			callbackPage(w, http.StatusBadRequest, "knot connect failed: "+err.Error())
			return
		}
		callbackPage(w, http.StatusOK, "knot connect is done: the CLI is connected. You can close this tab.")
	})
	return mux
}

// callbackPage answers the browser with a page that says msg.
func callbackPage(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>knot connect</title></head>\n<body><p id=\"result\">%s</p></body></html>\n", html.EscapeString(msg))
}

// openBrowser opens u in the user's browser: the first command of
// $BROWSER (a list separated as PATH is; "%s" in a command stands for the
// address, else it is the last argument) that starts, else the system's
// opener. It does not wait for the browser.
func openBrowser(u string) error {
	var cmds [][]string
	if b := os.Getenv("BROWSER"); b != "" {
		for _, line := range strings.Split(b, string(os.PathListSeparator)) {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			put := false
			for i, a := range f[1:] {
				if strings.Contains(a, "%s") {
					f[i+1], put = strings.ReplaceAll(a, "%s", u), true
				}
			}
			if !put {
				f = append(f, u)
			}
			cmds = append(cmds, f)
		}
	} else {
		switch runtime.GOOS {
		case "darwin":
			cmds = [][]string{{"open", u}}
		case "windows":
			cmds = [][]string{{"rundll32", "url.dll,FileProtocolHandler", u}}
		default:
			cmds = [][]string{{"xdg-open", u}}
		}
	}
	var errs []error
	for _, c := range cmds {
		cmd := exec.Command(c[0], c[1:]...)
		if err := cmd.Start(); err != nil {
			errs = append(errs, err)
			continue
		}
		go func() { _ = cmd.Wait() }()
		return nil
	}
	if len(errs) == 0 {
		return errors.New("$BROWSER names no command")
	}
	return errors.Join(errs...)
}

// randomText returns n random bytes in unpadded base64url.
func randomText(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// readPastedToken reads the token: without echo from a terminal, else the
// first line of standard input.
func readPastedToken(s streams) (string, error) {
	var tok string
	if fd, tty := stdinTerminal(s); tty {
		fmt.Fprint(s.stderr, "API token: ")
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(s.stderr)
		if err != nil {
			return "", fmt.Errorf("read the API token: %w", err)
		}
		tok = string(b)
	} else {
		line, err := bufio.NewReader(s.stdin).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			if errors.Is(err, io.EOF) {
				return "", errors.New("no API token on standard input")
			}
			return "", fmt.Errorf("read the API token: %w", err)
		}
		tok = line
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", errors.New("no API token given")
	}
	return tok, nil
}
