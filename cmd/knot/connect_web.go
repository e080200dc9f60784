package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// useWebAuthFlag makes knot connect take an API token the user creates in
// the web UI, in place of a password login: for a user who logs in through
// a browser only (a password manager, two-factor login on a phone).
var useWebAuthFlag = &cli.BoolFlag{
	Name:  "use-web-auth",
	Usage: "create the API token in the web UI and paste it, instead of logging in with a password",
}

// useWebAuthHelp explains knot connect --use-web-auth.
const useWebAuthHelp = "With --use-web-auth knot asks for no password: it prints the address of the web UI's API tokens\n" +
	"page, where you log in (with two-factor login when the server uses it) and create a token, and\n" +
	"reads the token you paste (without echo on a terminal; otherwise the first line of standard\n" +
	"input). It checks the token with the server and saves it as a password login would; the token's\n" +
	"lifetime is the one chosen on the page."

// connectWebAuth is knot connect --use-web-auth.
func connectWebAuth(c *cli.Context, s streams, server, file string, ct *connectTLS) error {
	if c.IsSet("email") {
		return usagef(c, "--email is for a password login; with --use-web-auth you log in on the web page")
	}
	if c.IsSet("token-lifetime") {
		return usagef(c, "--token-lifetime is for a password login; with --use-web-auth the token's lifetime is chosen on the web page")
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown host"
	}
	fmt.Fprintf(s.stderr, "Open %s/tokens in a browser, log in, and create an API token (a name such as %q will do).\n", server, "knot client "+host)
	token, err := readPastedToken(s)
	if err != nil {
		return err
	}
	if strings.ContainsAny(token, " \t") {
		return errors.New("the pasted token contains spaces: paste the token alone, as the page shows it")
	}
	return finishConnect(c.Context, c.App.Writer, server, "", file, token, "the API token is saved in", ct)
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
