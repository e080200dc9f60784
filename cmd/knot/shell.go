package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// withShell adds knot space shell and knot space exec to the space command.
func withShell(c *cli.Command) *cli.Command {
	c.Subcommands = append(c.Subcommands, shellCommand(), execCommand(), agentEnvCommand())
	return c
}

func shellCommand() *cli.Command {
	return &cli.Command{
		Name:      "shell",
		Usage:     "Open a terminal in a running space",
		UsageText: "knot space shell [options] NAME",
		Description: "Opens a login shell in the space NAME (your preferred shell, else zsh, bash or sh).\n" +
			"On a terminal it takes it over (raw mode) and follows its size; with a pipe as input it\n" +
			"sends the input and ends the shell's input when the pipe ends, so it can be scripted.\n" +
			"A session outlives a broken connection for a while (agent.terminal_keep): --list shows\n" +
			"the kept sessions and --attach ID reattaches, replaying the recent output. knot exits with\n" +
			"the shell's exit status.",
		Flags: clientFlags(
			&cli.StringFlag{Name: "attach", Usage: "reattach to the kept terminal session `ID`"},
			&cli.BoolFlag{Name: "list", Usage: "list the kept terminal sessions"},
		),
		Action: func(c *cli.Context) error {
			if err := wantArgs(c, "NAME"); err != nil {
				return err
			}
			return withClient(c, func(cl *apiClient) error {
				sp, err := cl.findSpace(c.Context, c.Args().First())
				if err != nil {
					return err
				}
				if c.Bool("list") {
					return listTerminals(c, cl, sp.ID)
				}
				q := url.Values{}
				if id := c.String("attach"); id != "" {
					q.Set("attach", id)
				} else if !isTerminal(c.App.Reader) {
					// As ssh does: with no terminal to take over, the shell
					// reads its commands from the input, without one.
					q.Set("pty", "0")
				}
				return runTerminal(c, cl, sp.ID, q, true)
			})
		},
	}
}

func execCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "Run one command in a running space",
		UsageText: "knot space exec [options] NAME -- COMMAND [ARG...]",
		Description: "Runs COMMAND in the space NAME in its owner's home directory, without a terminal unless\n" +
			"--tty is given: its output is written here, this command's input is its input, and knot\n" +
			"exits with its exit status.",
		Flags: clientFlags(
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "run the command under a terminal"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() < 2 {
				return &usageError{cmd: commandName(c), err: errors.New("needs NAME and COMMAND: knot space exec NAME -- COMMAND [ARG...]")}
			}
			return withClient(c, func(cl *apiClient) error {
				sp, err := cl.findSpace(c.Context, c.Args().First())
				if err != nil {
					return err
				}
				q := url.Values{"cmd": c.Args().Slice()[1:]}
				if !c.Bool("tty") {
					q.Set("pty", "0")
				}
				return runTerminal(c, cl, sp.ID, q, c.Bool("tty"))
			})
		},
	}
}

func agentEnvCommand() *cli.Command {
	return &cli.Command{
		Name:      "agent-env",
		Usage:     "Make a new agent token for a manual space and print the agent's environment",
		UsageText: "knot space agent-env [options] NAME",
		Description: "Prints KNOT_AGENT_ENDPOINT, KNOT_SPACE_ID, KNOT_AGENT_TOKEN and KNOT_AGENT_FINGERPRINT\n" +
			"for the manual space NAME, one NAME=VALUE a line, with a new token: an agent linked with\n" +
			"the one before is cut. On the machine of the space: env $(cat agent.env) knot agent.",
		Flags: clientFlags(),
		Action: func(c *cli.Context) error {
			if err := wantArgs(c, "NAME"); err != nil {
				return err
			}
			return withClient(c, func(cl *apiClient) error {
				sp, err := cl.findSpace(c.Context, c.Args().First())
				if err != nil {
					return err
				}
				var res struct {
					Env map[string]string `json:"env"`
				}
				if err := cl.do(c.Context, http.MethodPost, "/api/spaces/"+escape(sp.ID)+"/agent-token", nil, &res); err != nil {
					return err
				}
				for _, k := range []string{"KNOT_AGENT_ENDPOINT", "KNOT_SPACE_ID", "KNOT_AGENT_TOKEN", "KNOT_AGENT_FINGERPRINT"} {
					fmt.Fprintf(c.App.Writer, "%s=%s\n", k, res.Env[k])
				}
				return nil
			})
		},
	}
}

// listTerminals prints the terminal sessions the space's agent keeps.
func listTerminals(c *cli.Context, cl *apiClient, spaceID string) error {
	var l struct {
		Sessions []struct {
			ID      string    `json:"id"`
			Shell   string    `json:"shell"`
			Created time.Time `json:"created"`
			Viewers int       `json:"viewers"`
		} `json:"sessions"`
	}
	if err := cl.do(c.Context, http.MethodGet, "/api/spaces/"+escape(spaceID)+"/terminal", nil, &l); err != nil {
		return err
	}
	for _, s := range l.Sessions {
		fmt.Fprintf(c.App.Writer, "%s  %s  since %s  %d viewer(s)\n", s.ID, s.Shell, s.Created.Local().Format(time.DateTime), s.Viewers)
	}
	return nil
}

// termMessage is a text message of the terminal websocket.
type termMessage struct {
	Type   string `json:"type"`
	ID     string `json:"id,omitempty"`
	Cols   int    `json:"cols,omitempty"`
	Rows   int    `json:"rows,omitempty"`
	Code   *int   `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// runTerminal opens the terminal websocket with query q and relays it to
// the command's standard streams. With tty and a terminal as input, it
// puts that terminal in raw mode and sends its size on every SIGWINCH.
// It returns an exit status carrying the program's.
func runTerminal(c *cli.Context, cl *apiClient, spaceID string, q url.Values, tty bool) error {
	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	in := c.App.Reader
	out := c.App.Writer
	var raw *term.State
	inFile, isFile := in.(*os.File)
	if tty && isFile && term.IsTerminal(int(inFile.Fd())) {
		if w, h, err := term.GetSize(int(inFile.Fd())); err == nil && w > 0 && h > 0 {
			q.Set("cols", strconv.Itoa(min(w, 1000)))
			q.Set("rows", strconv.Itoa(min(h, 1000)))
		}
		st, err := term.MakeRaw(int(inFile.Fd()))
		if err != nil {
			return fmt.Errorf("cannot put the terminal in raw mode: %w", err)
		}
		raw = st
		defer term.Restore(int(inFile.Fd()), raw)
	}

	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+cl.token)
	hdr.Set("User-Agent", "knot/"+version)
	dialClient := *cl.http
	dialClient.Timeout = 0
	dctx, dcancel := context.WithTimeout(ctx, requestTimeout)
	conn, resp, err := websocket.Dial(dctx, cl.base+"/api/spaces/"+escape(spaceID)+"/terminal?"+q.Encode(), &websocket.DialOptions{
		HTTPClient: &dialClient,
		HTTPHeader: hdr,
	})
	dcancel()
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 {
			var body []byte
			if resp.Body != nil {
				body, _ = io.ReadAll(resp.Body)
			}
			return errorFromResponse(resp.StatusCode, body)
		}
		return fmt.Errorf("cannot open the terminal on %s: %w", cl.base, cl.unwrapURLError(err))
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)

	send := func(m termMessage) error {
		b, _ := json.Marshal(m)
		return conn.Write(ctx, websocket.MessageText, b)
	}
	if raw != nil {
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-winch:
					if w, h, err := term.GetSize(int(inFile.Fd())); err == nil && w > 0 && h > 0 {
						send(termMessage{Type: "resize", Cols: min(w, 1000), Rows: min(h, 1000)})
					}
				}
			}
		}()
	}
	// Input: until it ends (then the program's input ends) or ctx does.
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				if conn.Write(ctx, websocket.MessageBinary, buf[:n]) != nil {
					return
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					send(termMessage{Type: "eof"})
				}
				return
			}
		}
	}()

	session := ""
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			if raw != nil {
				term.Restore(int(inFile.Fd()), raw)
			}
			if c.Context.Err() != nil {
				return nil
			}
			var ce websocket.CloseError
			if errors.As(err, &ce) && ce.Reason != "" {
				err = errors.New(ce.Reason)
			}
			if session != "" {
				return fmt.Errorf("the terminal connection ended: %v\nThe session is kept for a while: knot space shell --attach %s", err, session)
			}
			return fmt.Errorf("the terminal connection ended: %v", err)
		}
		if typ == websocket.MessageBinary {
			if _, err := out.Write(data); err != nil {
				return err
			}
			continue
		}
		var m termMessage
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		switch m.Type {
		case "session":
			if m.ID != "exec" {
				session = m.ID
			}
		case "exit":
			conn.Close(websocket.StatusNormalClosure, "")
			if raw != nil {
				term.Restore(int(inFile.Fd()), raw)
			}
			if m.Reason != "" {
				fmt.Fprintf(c.App.ErrWriter, "knot: the terminal session ended: %s\n", m.Reason)
			}
			if m.Code != nil && *m.Code != 0 {
				return &exitStatus{code: *m.Code}
			}
			return nil
		}
	}
}

// exitStatus makes knot exit with a program's exit status, and print
// nothing.
type exitStatus struct{ code int }

func (e *exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// isTerminal reports whether r is a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
