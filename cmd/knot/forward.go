package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/coder/websocket"
	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
)

// forwardCommand is knot forward: ways into a space through the server.
func forwardCommand() *cli.Command {
	return &cli.Command{
		Name:        "forward",
		Usage:       "Forward a port of a space to this machine, or carry SSH to it",
		UsageText:   "knot forward COMMAND [options] [arguments]",
		Action:      unknownCommand,
		Subcommands: []*cli.Command{forwardPortCommand(), forwardSSHCommand()},
	}
}

func forwardPortCommand() *cli.Command {
	return &cli.Command{
		Name:      "port",
		Usage:     "Listen here and connect each connection to a port inside a space",
		UsageText: "knot forward port [options] SPACE REMOTE_PORT [LOCAL_ADDR:PORT]",
		Description: "Listens on LOCAL_ADDR:PORT (127.0.0.1 and REMOTE_PORT when not given) and connects\n" +
			"each connection it accepts to 127.0.0.1:REMOTE_PORT inside the space, through the server\n" +
			"and the space's agent: any port, for the space's owner or a user with Manage Spaces.\n" +
			"Several connections run at once; each ends on its own. Ctrl-C stops listening.",
		Flags: clientFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() < 2 || c.NArg() > 3 {
				return &usageError{cmd: commandName(c), err: errors.New("needs SPACE and REMOTE_PORT, and optionally LOCAL_ADDR:PORT")}
			}
			port, err := strconv.Atoi(c.Args().Get(1))
			if err != nil || port < 1 || port > 65535 {
				return &usageError{cmd: commandName(c), err: fmt.Errorf("REMOTE_PORT must be a port from 1 to 65535, not %q", c.Args().Get(1))}
			}
			local := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			if c.NArg() == 3 {
				local = c.Args().Get(2)
				if _, _, err := net.SplitHostPort(local); err != nil {
					return &usageError{cmd: commandName(c), err: fmt.Errorf("LOCAL_ADDR:PORT %q: %v", local, err)}
				}
			}
			return withClient(c, func(cl *client.Client) error {
				sp, err := findSpace(c.Context, cl, c.Args().First())
				if err != nil {
					return err
				}
				return forwardPort(c, cl, sp, port, local)
			})
		},
	}
}

// forwardPort listens on local until the command's context ends and
// relays each connection to port of sp.
func forwardPort(c *cli.Context, cl *client.Client, sp *api.Space, port int, local string) error {
	ln, err := net.Listen("tcp", local)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", local, err)
	}
	ctx := c.Context
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	fmt.Fprintf(c.App.Writer, "Forwarding %s to port %d of space %s.\n", ln.Addr(), port, sp.Name)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Go(func() {
			defer conn.Close()
			if err := relayForward(ctx, cl, sp.ID, port, conn.(*net.TCPConn)); err != nil {
				fmt.Fprintf(c.App.ErrWriter, "knot: %s: %v\n", conn.RemoteAddr(), err)
			}
		})
	}
}

// relayForward connects conn to port of the space until both sides
// ended or one broke.
func relayForward(ctx context.Context, cl *client.Client, spaceID string, port int, conn *net.TCPConn) error {
	dctx, cancel := context.WithTimeout(ctx, requestTimeout)
	ws, err := cl.Spaces().ForwardPort(dctx, spaceID, port)
	cancel()
	if err != nil {
		return err
	}
	defer ws.CloseNow()
	ctx, cancel = context.WithCancel(ctx)
	defer cancel()
	eof, _ := json.Marshal(api.TerminalMessage{Type: "eof"})
	go func() { // here → space, in messages as large as the server takes
		buf := make([]byte, client.MaxPortMessage)
		for {
			n, err := conn.Read(buf)
			if n > 0 && ws.Write(ctx, websocket.MessageBinary, buf[:n]) != nil {
				cancel()
				return
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					ws.Write(ctx, websocket.MessageText, eof)
					return
				}
				cancel()
				return
			}
		}
	}()
	buf := make([]byte, client.MaxPortMessage)
	for { // space → here, each message read into one buffer
		typ, r, err := ws.Reader(ctx)
		if err != nil {
			if ctx.Err() != nil || websocket.CloseStatus(err) == websocket.StatusNormalClosure {
				return nil
			}
			var ce websocket.CloseError
			if errors.As(err, &ce) && ce.Reason != "" {
				return errors.New(ce.Reason)
			}
			return err
		}
		if typ == websocket.MessageText {
			io.Copy(io.Discard, r)
			conn.CloseWrite() // the space's program wrote its last byte
			continue
		}
		if _, err := io.CopyBuffer(struct{ io.Writer }{conn}, struct{ io.Reader }{r}, buf); err != nil {
			return nil
		}
	}
}
