package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/coder/websocket"
	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
)

func spaceCommand() *cli.Command {
	return &cli.Command{
		Name:        "space",
		Aliases:     []string{"spaces"},
		Usage:       "List, create, start, stop and delete your spaces",
		UsageText:   "knot space COMMAND [options] [arguments]",
		Description: "A space is named by its NAME, or by NAME@LOCATION when you have spaces of that name at several locations.\n\n" + clientConfigHelp,
		Action:      unknownCommand,
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Aliases:   []string{"ls"},
				Usage:     "List your spaces",
				UsageText: "knot space list [options]",
				Flags: append(clientFlags(),
					&cli.StringFlag{Name: "search", Usage: "only the spaces whose name, description or template holds `TEXT`"},
					&cli.StringFlag{Name: "state", Usage: "only the spaces in `STATE` (running, stopped, failed…)"},
					&cli.StringFlag{Name: "location", Usage: "only the spaces at `LOCATION`"}),
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					return withClient(c, func(cl *client.Client) error { return listSpaces(c, cl) })
				},
			},
			{
				Name:      "create",
				Usage:     "Create a space from a template",
				UsageText: "knot space create [options] NAME TEMPLATE",
				Description: "Creates the space NAME from the template named TEMPLATE (knot template list shows them;\n" +
					"--template TEMPLATE may name it instead of the second argument).\n" +
					"The space is stopped until knot space start.\n\n" + locationHelp,
				Flags: clientFlags(
					&cli.StringFlag{Name: "description", Aliases: []string{"d"}, Usage: "description of the space"},
					&cli.StringFlag{Name: "shell", Usage: "the space's shell, for its terminals (web, knot space shell) and SSH sessions: bash, zsh, fish or sh (default: your preferred shell)"},
					templateFlag, locationFlag,
				),
				Action: func(c *cli.Context) error {
					args, err := spaceCreateArgs(c)
					if err != nil {
						return err
					}
					if v := c.String("server"); c.IsSet("server") && !strings.Contains(v, "://") {
						return usagef(c, "--server names the knot server to talk to, a URL such as https://knot.example.com; "+
							"knot's predecessor named the space's server with it: use --location %s", v)
					}
					location, err := spaceLocationArg(c)
					if err != nil {
						return err
					}
					shell := c.String("shell")
					if shell != "" && !shared.ValidShell(shell) {
						return usagef(c, "--shell %q is not one of bash, zsh, fish, sh", shell)
					}
					return withClient(c, func(cl *client.Client) error {
						return createSpace(c, cl, args[0], args[1], c.String("description"), shell, location)
					})
				},
			},
			spaceGetCommand(),
			spaceAction("start", "Start a space", "start"),
			spaceAction("stop", "Stop a space", "stop"),
			{
				Name:      "delete",
				Aliases:   []string{"rm"},
				Usage:     "Delete a space, stopping it first when it runs",
				UsageText: "knot space delete [options] NAME",
				Flags:     clientFlags(),
				Action: func(c *cli.Context) error {
					return withNamedSpace(c, func(cl *client.Client, sp *api.Space) error {
						if err := cl.Spaces().Delete(c.Context, sp.ID); err != nil {
							return err
						}
						_, err := fmt.Fprintf(c.App.Writer, "Space %s deleted.\n", sp.Name)
						return err
					})
				},
			},
			{
				Name:      "logs",
				Usage:     "Show the recent log lines of a space",
				UsageText: "knot space logs [options] NAME",
				Description: "Prints the recent log lines of the space. With --follow, keeps printing new lines as the\n" +
					"space writes them, until Ctrl-C or until the server ends the stream.",
				Flags: clientFlags(
					&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new lines"},
				),
				Action: func(c *cli.Context) error {
					return withNamedSpace(c, func(cl *client.Client, sp *api.Space) error {
						if c.Bool("follow") {
							return followLogs(c.Context, cl, sp.ID, c.App.Writer, c.App.ErrWriter)
						}
						l, err := cl.Spaces().Logs(c.Context, sp.ID)
						if err != nil {
							return err
						}
						return printLines(c.App.Writer, l.Lines)
					})
				},
			},
		},
	}
}

// wantArgs refuses a command line without exactly the named arguments.
func wantArgs(c *cli.Context, names ...string) error {
	if c.NArg() < len(names) {
		return usagef(c, "missing %s", strings.Join(names[c.NArg():], " and "))
	}
	if c.NArg() > len(names) {
		return usagef(c, "unexpected argument %q", c.Args().Get(len(names)))
	}
	for i, n := range names {
		if strings.TrimSpace(c.Args().Get(i)) == "" {
			return usagef(c, "%s is empty", n)
		}
	}
	return nil
}

func listSpaces(c *cli.Context, cl *client.Client) error {
	opts := client.SpaceListOptions{Query: c.String("search"), State: c.String("state"), Location: c.String("location")}
	spaces, err := cl.Spaces().List(c.Context, opts)
	if err != nil {
		return err
	}
	if len(spaces) == 0 && opts != (client.SpaceListOptions{}) {
		_, err := fmt.Fprintln(c.App.Writer, "No space of yours matches.")
		return err
	}
	if len(spaces) == 0 {
		_, err := fmt.Fprintln(c.App.Writer, "You have no spaces; knot space create NAME TEMPLATE makes one.")
		return err
	}
	slices.SortFunc(spaces, func(a, b api.Space) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	withAgents := slices.ContainsFunc(spaces, func(sp api.Space) bool { return sp.Agent != nil })
	withPorts := slices.ContainsFunc(spaces, func(sp api.Space) bool { return len(sp.HTTPPorts) > 0 })
	head := []string{"NAME", "STATE", "LOCATION", "TEMPLATE", "UPDATE AVAILABLE"}
	if withAgents {
		head = append(head, "AGENT")
	}
	if withPorts {
		head = append(head, "WEB PORTS")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, sp := range spaces {
		state := string(sp.State)
		if sp.Reason != "" {
			state += ": " + oneLine(sp.Reason, 60)
		}
		update := "no"
		if sp.UpdateAvailable {
			update = "yes"
		}
		row := []string{sp.Name, state, sp.Location, sp.TemplateName, update}
		if withAgents {
			row = append(row, agentColumn(sp.Agent))
		}
		if withPorts {
			row = append(row, portsColumn(sp.HTTPPorts))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

func createSpace(c *cli.Context, cl *client.Client, name, templateName, description, shell, location string) error {
	ts, err := cl.Templates().List(c.Context)
	if err != nil {
		return err
	}
	t := findTemplate(ts, templateName)
	if t == nil {
		return fmt.Errorf("there is no template named %q that you may use (knot template list shows them)", templateName)
	}
	req := api.SpaceCreateRequest{Name: name, Description: description, TemplateID: t.ID, Shell: shell, Location: location}
	res, err := cl.Spaces().Create(c.Context, req)
	if err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "Space %s created from template %s%s.\n", name, t.Name, createdAt(c.Context, cl, res.SpaceID, location))
	if t.Kind == shared.TemplateManual && res.AgentToken != "" {
		// The agent of a manual space is run by the user, who needs its
		// credential; the server shows it only now.
		fmt.Fprintf(w, "Its agent token (shown only now; give it to knot agent as KNOT_AGENT_TOKEN, with KNOT_SPACE_ID=%s):\n%s\n", res.SpaceID, res.AgentToken)
		fmt.Fprintf(w, "The agent also needs the leaf's endpoint and fingerprint: knot space agent-env %s prints all four\n"+
			"variables, with a new token, so that env $(knot space agent-env %s) knot agent runs it.\n", name, name)
	}
	return nil
}

// spaceAction is knot space start or stop.
func spaceAction(name, usage, verb string) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		UsageText: "knot space " + name + " [options] NAME",
		Flags:     clientFlags(),
		Action: func(c *cli.Context) error {
			return withNamedSpace(c, func(cl *client.Client, sp *api.Space) error {
				act := cl.Spaces().Start
				if verb == "stop" {
					act = cl.Spaces().Stop
				}
				res, err := act(c.Context, sp.ID)
				if err != nil {
					return err
				}
				state := string(res.State)
				if state == "" {
					state = "requested"
				}
				msg := fmt.Sprintf("Space %s: %s", sp.Name, state)
				if res.Reason != "" {
					msg += " (" + oneLine(res.Reason, 200) + ")"
				}
				_, err = fmt.Fprintln(c.App.Writer, msg+".")
				return err
			})
		},
	}
}

// oneLine returns s on one line, cut to at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// printLines writes each line, ending it with a newline when it has none.
func printLines(w io.Writer, lines []string) error {
	for _, l := range lines {
		if !strings.HasSuffix(l, "\n") {
			l += "\n"
		}
		if _, err := io.WriteString(w, l); err != nil {
			return err
		}
	}
	return nil
}

// followLogs prints the log lines the server streams at
// /api/spaces/{id}/logs/stream until ctx ends (Ctrl-C) or the server closes
// the stream, which the server does when the log ends (the space was
// deleted) or when it shuts down; the reason it gives is written to errw.
// The server sends the recent lines first.
func followLogs(ctx context.Context, cl *client.Client, spaceID string, w, errw io.Writer) error {
	dctx, cancel := context.WithTimeout(ctx, requestTimeout)
	stream, err := cl.Spaces().LogStream(dctx, spaceID)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer stream.CloseNow()
	for {
		lines, err := stream.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				stream.Close()
				return nil
			}
			switch websocket.CloseStatus(err) {
			case websocket.StatusNormalClosure, websocket.StatusGoingAway:
				var ce websocket.CloseError
				if errors.As(err, &ce) && ce.Reason != "" {
					fmt.Fprintf(errw, "The server closed the log stream: %s.\n", ce.Reason)
				}
				return nil
			case -1:
				return fmt.Errorf("the log stream broke off: %w", err)
			}
			var ce websocket.CloseError
			if errors.As(err, &ce) && ce.Reason != "" {
				return fmt.Errorf("the server ended the log stream: %s", ce.Reason)
			}
			return fmt.Errorf("the server ended the log stream: %w", err)
		}
		if err := printLines(w, lines); err != nil {
			return err
		}
	}
}

// portsColumn shows a space's web ports: "8080 (Site), 3000 (Dev)".
func portsColumn(ports []shared.HTTPPort) string {
	if len(ports) == 0 {
		return "-"
	}
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = fmt.Sprintf("%d (%s)", p.Port, p.Name)
	}
	return strings.Join(out, ", ")
}
