package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
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
			return withNamedSpace(c, func(cl *client.Client, sp *api.Space) error {
				if c.Bool("list") {
					return listTerminals(c, cl, sp)
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
			return withClient(c, func(cl *client.Client) error {
				sp, err := findSpace(c.Context, cl, c.Args().First())
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
			return withNamedSpace(c, func(cl *client.Client, sp *api.Space) error {
				res, err := cl.Spaces().AgentToken(c.Context, sp.ID)
				if err != nil {
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
func listTerminals(c *cli.Context, cl *client.Client, sp *api.Space) error {
	sessions, err := cl.Spaces().Terminals(c.Context, sp.ID)
	if err != nil {
		return err
	}
	if len(sessions) == 0 {
		_, err := fmt.Fprintf(c.App.Writer, "No terminal sessions are kept in %s; knot space shell %s starts one.\n", sp.Name, sp.Name)
		return err
	}
	for _, s := range sessions {
		fmt.Fprintf(c.App.Writer, "%s  %s  since %s  %s\n", s.ID, s.Shell, s.Created.Local().Format(time.DateTime), shared.Count(s.Viewers, "viewer"))
	}
	return nil
}

// runTerminal opens the terminal websocket with query q and relays it to
// the command's standard streams. With tty and a terminal as input, it
// puts that terminal in raw mode and sends its size on every SIGWINCH.
// It returns an exit status carrying the program's.
func runTerminal(c *cli.Context, cl *client.Client, spaceID string, q url.Values, tty bool) error {
	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	in := c.App.Reader
	out := c.App.Writer
	var raw *term.State
	inFile, isFile := in.(*os.File)
	if tty && isFile && term.IsTerminal(int(inFile.Fd())) {
		if w, h, err := term.GetSize(int(inFile.Fd())); err == nil && w > 0 && h > 0 {
			q.Set("cols", strconv.Itoa(int(termSize(w))))
			q.Set("rows", strconv.Itoa(int(termSize(h))))
		}
		st, err := term.MakeRaw(int(inFile.Fd()))
		if err != nil {
			return fmt.Errorf("cannot put the terminal in raw mode: %w", err)
		}
		raw = st
		defer term.Restore(int(inFile.Fd()), raw)
	}

	dctx, dcancel := context.WithTimeout(ctx, requestTimeout)
	conn, err := cl.Spaces().Terminal(dctx, spaceID, q)
	dcancel()
	if err != nil {
		if c.Context.Err() != nil {
			return nil // Ctrl-C
		}
		return err
	}
	defer conn.CloseNow()

	send := func(m api.TerminalMessage) error {
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
						send(api.TerminalMessage{Type: "resize", Cols: termSize(w), Rows: termSize(h)})
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
					send(api.TerminalMessage{Type: "eof"})
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
				return fmt.Errorf("the terminal connection ended: %v\nThe session is kept for a while: knot space shell %s --attach %s", err, c.Args().First(), session)
			}
			return fmt.Errorf("the terminal connection ended: %v", err)
		}
		if typ == websocket.MessageBinary {
			if _, err := out.Write(data); err != nil {
				return err
			}
			continue
		}
		var m api.TerminalMessage
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

// termSize bounds a terminal dimension for the API, which takes 1 to 1000.
func termSize(n int) uint16 { return uint16(max(1, min(n, 1000))) }

// exitStatus makes knot exit with a program's exit status, and print
// nothing.
type exitStatus struct{ code int }

func (e *exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// isTerminal reports whether r is a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
