package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/shared/config"
	"github.com/knot-dev/knot/shared/crypt"
)

// clientConfigFlag names the client configuration file.
var clientConfigFlag = &cli.StringFlag{
	Name:    "config",
	Aliases: []string{"c"},
	Usage:   "client configuration file; without it, $KNOT_CONFIG, else $XDG_CONFIG_HOME/knot/knot.yaml (~/.config/knot/knot.yaml)",
}

// clientFlags are the flags of every command that talks to a server:
// --config, --server, --token, the TLS flags and --log-level.
func clientFlags(extra ...cli.Flag) []cli.Flag {
	own := map[string]bool{}
	for _, f := range extra {
		for _, n := range f.Names() {
			own[n] = true
		}
	}
	flags := []cli.Flag{clientConfigFlag}
	for _, f := range keyFlags("client.", "log.") {
		if f != configFlag {
			flags = append(flags, withShortName(f, own))
		}
	}
	return append(flags, extra...)
}

func connectCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:      "connect",
		Usage:     "Log in to a knot server and save an API token for the other client commands",
		UsageText: "knot connect [--email EMAIL | --use-web-auth [--paste-token]] [--config FILE] URL",
		Description: "Asks for your email and password (on a terminal the password is not echoed; otherwise\n" +
			"it is read from the first line of standard input, after the email when --email is not given),\n" +
			"creates an API token named \"knot client <host name>\" that expires after --token-lifetime,\n" +
			"and writes client.server and client.token to the client configuration file, keeping its other\n" +
			"keys. The file is readable by you only. When the file already holds a token of yours for the\n" +
			"server that has more than a week (or half the lifetime) to live, that token is kept; otherwise\n" +
			"the new token replaces it and the old one is deleted, so connecting again leaves one token.\n" +
			"URL is the server's address, such as https://knot.example.com.\n" +
			"The server's certificate is verified as --tls-ca-file, --tls-fingerprint or --tls-skip-verify\n" +
			"say, else by the system's roots; that choice is saved with the server (client.tls_*).\n\n" +
			"When the server uses two-factor login, knot then asks for the code of your authenticator app\n" +
			"(the next line of standard input). Without one for this server yet, give none: knot shows\n" +
			"the new secret to add to the app, then asks for its code.\n\n" + useWebAuthHelp,
		Flags: append([]cli.Flag{
			clientConfigFlag,
			&cli.StringFlag{Name: "email", Aliases: []string{"e"}, Usage: "email to log in with; without it, knot asks"},
			&cli.DurationFlag{Name: "token-lifetime", Value: defaultTokenLifetime, Usage: "how long the new API token works; 0 means it never expires"},
			useWebAuthFlag,
			pasteTokenFlag,
			// The predecessor's flag, which knot names --email.
			&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Hidden: true},
		}, tlsFlags()...),
		Action: func(c *cli.Context) error {
			if c.IsSet("username") {
				return usagef(c, "knot connect logs in with your email: use --email (-e) instead of --username (-u), which knot's predecessor had")
			}
			switch c.NArg() {
			case 0:
				return usagef(c, "missing URL of the server")
			case 1:
			default:
				return usagef(c, "unexpected argument %q", c.Args().Get(1))
			}
			server, err := serverURL(c.Args().First())
			if err != nil {
				return usagef(c, "%v", err)
			}
			file, _, err := clientConfigFile(c)
			if err != nil {
				return err
			}
			ct, err := readConnectTLS(c)
			if err != nil {
				return err
			}
			if c.Bool(useWebAuthFlag.Name) {
				return connectWebAuth(c, s, server, file, ct)
			}
			if c.Bool(pasteTokenFlag.Name) {
				return usagef(c, "--paste-token goes with --use-web-auth")
			}
			in := bufio.NewReader(s.stdin)
			email := strings.TrimSpace(c.String("email"))
			if email == "" {
				if email, err = promptLine(s, in, "Email: "); err != nil {
					return err
				}
				if email == "" {
					return errors.New("no email given")
				}
			}
			password, err := promptPassword(s, in, "Password: ")
			if err != nil {
				return err
			}
			lifetime := c.Duration("token-lifetime")
			if lifetime < 0 {
				return usagef(c, "--token-lifetime must not be negative")
			}
			askCode := func(hint string) (string, error) {
				if _, tty := stdinTerminal(s); tty && hint != "" {
					fmt.Fprintln(s.stderr, hint)
				}
				return promptLine(s, in, "Two-factor code: ")
			}
			return connect(c.Context, c.App.Writer, s.stderr, server, email, password, file, askCode, lifetime, ct)
		},
	}
}

// serverURL checks the server address given to knot connect, as
// client.server would be checked.
func serverURL(arg string) (string, error) {
	cfg, err := config.Load(config.Options{
		File:  os.DevNull,
		Env:   func(string) (string, bool) { return "", false },
		Flags: map[string]string{"server": arg},
	})
	if err != nil {
		var es config.Errors
		if errors.As(err, &es) && len(es) > 0 {
			return "", fmt.Errorf("server URL %q %s (such as https://knot.example.com)", arg, strings.TrimPrefix(es[0].Problem, fmt.Sprintf("%q ", arg)))
		}
		return "", err
	}
	return cfg.Client.Server, nil
}

// defaultTokenLifetime is how long the API token of knot connect works.
const defaultTokenLifetime = 90 * 24 * time.Hour

// connect logs in, keeps the API token saved in file for server when it is
// the user's and has long enough to live, or else creates one that expires
// after lifetime (0: never), checks it, writes it with the server and the
// TLS settings it verified the server by to file, and deletes the token it
// replaces. The login session is ended afterwards. When the server uses
// TOTP, askCode reads the code (hint, if any, is shown first on a
// terminal), and a new secret the login gives is shown on notes.
func connect(ctx context.Context, out, notes io.Writer, server, email, password, file string,
	askCode func(hint string) (string, error), lifetime time.Duration, ct *connectTLS) error {
	anon, err := newClient(server, "", ct.config)
	if err != nil {
		return err
	}
	login, err := logIn(ctx, anon, notes, email, password, askCode)
	if err != nil {
		return err
	}
	if login.Token == "" {
		return fmt.Errorf("%s answered the login without a session token (is this a knot server?)", server)
	}
	session := anon.WithToken(login.Token)
	defer func() {
		// End the session; the API token stays. A failure here changes
		// nothing for the user.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = session.Auth().Logout(lctx)
	}()

	mine, err := session.Tokens().List(ctx)
	if err != nil {
		return fmt.Errorf("list your API tokens: %w", err)
	}
	saved := savedToken(file, server, mine)
	if saved != nil && saved.lastsBeyond(time.Now(), min(7*24*time.Hour, lifetime/2)) {
		return finishConnect(ctx, out, server, email, file, saved.secret, "kept the API token saved in", ct)
	}

	req := api.TokenCreateRequest{Name: "knot client " + hostName()}
	if lifetime > 0 {
		req.ExpiresAt = time.Now().Add(lifetime).UTC().Format(time.RFC3339)
	}
	tok, err := session.Tokens().Create(ctx, req)
	if err != nil {
		return fmt.Errorf("create an API token: %w", err)
	}
	if tok.Token == "" {
		return fmt.Errorf("%s answered without the new token", server)
	}
	if err := finishConnect(ctx, out, server, email, file, tok.Token, "the API token is saved in", ct); err != nil {
		return err
	}
	if saved != nil {
		// The file no longer holds it; nothing else should.
		if err := session.Tokens().Delete(ctx, saved.ID); err != nil {
			fmt.Fprintf(out, "The API token it replaces, %q, could not be deleted: %v\n", saved.Name, err)
		}
	}
	return nil
}

// finishConnect checks token, writes it with server and the TLS settings
// to file and says so.
func finishConnect(ctx context.Context, out io.Writer, server, email, file, token, what string, ct *connectTLS) error {
	cl, err := newClient(server, token, ct.config)
	if err != nil {
		return err
	}
	me, err := cl.Users().WhoAmI(ctx)
	if err != nil {
		return fmt.Errorf("check the API token: %w", err)
	}
	if err := writeClientConfig(file, server, token, ct.keys...); err != nil {
		return err
	}
	who := me.Username
	if who == "" {
		who = email
	}
	_, err = fmt.Fprintf(out, "Connected to %s as %s; %s %s.\n", server, who, what, file)
	return err
}

// logIn logs in with the password and, when the server uses TOTP, a code;
// a login that sets up two-factor login shows the new secret and asks for
// a code of it.
func logIn(ctx context.Context, anon *client.Client, notes io.Writer, email, password string, askCode func(string) (string, error)) (*api.Login, error) {
	req := api.LoginRequest{Email: email, Password: password}
	if using, err := anon.Auth().UsingTOTP(ctx); err == nil && using {
		code, err := askCode("This server uses two-factor login: enter the code of your authenticator app, or nothing if you have none for it yet\n" +
			"(knot connect --use-web-auth logs in through your browser instead).")
		if err != nil {
			return nil, err
		}
		req.TOTPCode = code
	}
	login, err := anon.Auth().Login(ctx, req)
	enrol, ok := client.Enrolment(err)
	if !ok {
		return login, err
	}
	fmt.Fprintf(notes, "Two-factor login is new for %s: add this secret to an authenticator app\n  %s\nor its URI\n  %s\n", email, enrol.TOTPSecret, enrol.TOTPURL)
	if req.TOTPCode, err = askCode(""); err != nil {
		return nil, err
	}
	return anon.Auth().Login(ctx, req)
}

// savedTokenInfo is the token a client configuration file holds, as the
// server lists it.
type savedTokenInfo struct {
	api.Token
	secret string
}

// lastsBeyond reports whether the token still works d after now.
func (t *savedTokenInfo) lastsBeyond(now time.Time, d time.Duration) bool {
	return t.ExpiresAt == nil || t.ExpiresAt.After(now.Add(d))
}

// savedToken returns the token that file holds for server when it is among
// mine (the user's tokens, whose ids are the hashes of their secrets), else
// nil.
func savedToken(file, server string, mine []api.Token) *savedTokenInfo {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	cfg, err := config.Parse(file, data)
	if err != nil || cfg.Client.Server != server || cfg.Client.Token == "" {
		return nil
	}
	id := crypt.HashToken(cfg.Client.Token)
	for _, t := range mine {
		if t.ID == id {
			return &savedTokenInfo{Token: t, secret: cfg.Client.Token}
		}
	}
	return nil
}

// stdinTerminal returns the file descriptor of standard input when it is a
// terminal.
func stdinTerminal(s streams) (int, bool) {
	if f, ok := s.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return int(f.Fd()), true
	}
	return 0, false
}

// promptLine asks for one line: with a prompt on a terminal, silently
// otherwise.
func promptLine(s streams, in *bufio.Reader, prompt string) (string, error) {
	if _, tty := stdinTerminal(s); tty {
		fmt.Fprint(s.stderr, prompt)
	}
	line, err := in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("no %s on standard input", strings.ToLower(strings.TrimSuffix(prompt, ": ")))
		}
		return "", fmt.Errorf("read %s: %w", strings.ToLower(strings.TrimSuffix(prompt, ": ")), err)
	}
	return strings.TrimSpace(line), nil
}

// promptPassword reads a password: without echo from a terminal, else one
// line of in.
func promptPassword(s streams, in *bufio.Reader, prompt string) (string, error) {
	var pw string
	if fd, tty := stdinTerminal(s); tty {
		fmt.Fprint(s.stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(s.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		pw = string(b)
	} else {
		line, err := in.ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			if errors.Is(err, io.EOF) {
				return "", errors.New("no password on standard input")
			}
			return "", fmt.Errorf("read password: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if pw == "" {
		return "", errors.New("no password given")
	}
	return pw, nil
}
