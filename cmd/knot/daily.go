package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
)

// The everyday client commands of knot's predecessor that knot keeps: knot
// ping, knot space get, knot template delete. Each talks to the server
// through shared/client only.

func pingCommand() *cli.Command {
	return &cli.Command{
		Name:      "ping",
		Usage:     "Check that a knot server answers, and show its version and the round trip",
		UsageText: "knot ping [options]",
		Description: "Sends GET /health, which needs no token, and prints the round trip. With a token it also\n" +
			"sends GET /api/ping, which checks the token and tells the server's version; without one the\n" +
			"version is not shown (the server tells it to logged-in callers only).\n\n" + clientConfigHelp,
		Flags: clientFlags(),
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			cfg, err := loadClientConfig(c)
			if err != nil {
				return err
			}
			if cfg.Client.Server == "" {
				return fmt.Errorf("no knot server is configured: give --server URL, set KNOT_SERVER, or run 'knot connect URL' once")
			}
			tc, err := clientTLSConfig(cfg.Client)
			if err != nil {
				return err
			}
			cl, err := newConfiguredClient(c, cfg, cfg.Client.Token, tc)
			if err != nil {
				return err
			}
			return ping(c, cl, cfg.Client.Token != "")
		},
	}
}

// ping prints whether the server answers /health, how long it took, and,
// with a token, the version /api/ping tells.
func ping(c *cli.Context, cl *client.Client, withToken bool) error {
	ctx, cancel := context.WithTimeout(c.Context, 30*time.Second)
	defer cancel()
	start := time.Now()
	var health struct {
		Status bool `json:"status"`
	}
	if err := cl.Do(ctx, http.MethodGet, "/health", nil, &health); err != nil {
		return fmt.Errorf("%s does not answer: %w", cl.Address(), err)
	}
	rtt := time.Since(start)
	if !health.Status {
		return fmt.Errorf("%s answered /health without status true (is this a knot server?)", cl.Address())
	}
	w := c.App.Writer
	if !withToken {
		_, err := fmt.Fprintf(w, "%s answers: round trip %s; version not shown without a token (knot connect, or --token).\n", cl.Address(), roundMS(rtt))
		return err
	}
	start = time.Now()
	p, err := cl.Auth().Ping(ctx)
	if err != nil {
		if client.StatusOf(err) == http.StatusUnauthorized {
			return fmt.Errorf("%s answers (round trip %s) but refused the token: %w\nRun 'knot connect %s' for a new one.", cl.Address(), roundMS(rtt), err, cl.Address())
		}
		return fmt.Errorf("%s answers /health (round trip %s), but /api/ping failed: %w", cl.Address(), roundMS(rtt), err)
	}
	rtt = min(rtt, time.Since(start))
	v := p.Version
	if v == "" {
		v = "dev"
	}
	_, err = fmt.Fprintf(w, "%s answers: knot %s, round trip %s.\n", cl.Address(), v, roundMS(rtt))
	return err
}

// roundMS shows d in milliseconds with one decimal.
func roundMS(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

// spaceGetCommand is knot space get NAME.
func spaceGetCommand() *cli.Command {
	return &cli.Command{
		Name:      "get",
		Aliases:   []string{"show"},
		Usage:     "Show one space in full: its state, location, template, agent, web ports and times",
		UsageText: "knot space get [options] NAME",
		Description: "Prints each field of the space, one a line. Its location is the server (the leaf, or the\n" +
			"origin's own location) that runs it.",
		Flags: clientFlags(),
		Action: func(c *cli.Context) error {
			return withNamedSpace(c, func(cl *client.Client, sp *api.Space) error {
				full, err := cl.Spaces().Get(c.Context, sp.ID)
				if err != nil {
					return err
				}
				return printSpace(c, full)
			})
		},
	}
}

func printSpace(c *cli.Context, sp *api.Space) error {
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	when := func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	rows := [][2]string{
		{"Name", sp.Name},
		{"ID", sp.ID},
		{"Description", sp.Description},
		{"Owner", sp.Username},
		{"Template", sp.TemplateName},
		{"Location", sp.Location},
		{"State", string(sp.State)},
		{"Reason", oneLine(sp.Reason, 200)},
		{"Deployed", yesNo(sp.IsDeployed)},
		{"Update available", yesNo(sp.UpdateAvailable)},
		{"Agent", agentColumn(sp.Agent)},
		{"Web ports", portsColumn(sp.HTTPPorts)},
		{"Shell", sp.Shell},
		{"Started", when(sp.StartedAt)},
		{"Created", when(&sp.CreatedAt)},
		{"Updated", when(&sp.UpdatedAt)},
	}
	for _, r := range rows {
		v := r[1]
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], v)
	}
	return tw.Flush()
}

// templateDeleteCommand is knot template delete NAME.
func templateDeleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Aliases:   []string{"rm"},
		Usage:     "Delete a template that no space uses",
		UsageText: "knot template delete [options] NAME",
		Description: "Deletes the template named NAME. The server refuses while a space uses it (delete those\n" +
			"first). Needs the Manage Templates permission.",
		Flags: clientFlags(),
		Action: func(c *cli.Context) error {
			if err := wantArgs(c, "NAME"); err != nil {
				return err
			}
			return withClient(c, func(cl *client.Client) error {
				ts, err := cl.Templates().List(c.Context)
				if err != nil {
					return err
				}
				name := c.Args().First()
				t := findTemplate(ts, name)
				if t == nil {
					return fmt.Errorf("there is no template named %q that you may see (knot template list shows them)", name)
				}
				if err := cl.Templates().Delete(c.Context, t.ID); err != nil {
					return fmt.Errorf("delete template %s: %w", t.Name, err)
				}
				_, err = fmt.Fprintf(c.App.Writer, "Template %s deleted.\n", t.Name)
				return err
			})
		},
	}
}

// locationFlag is knot space create's --location.
var locationFlag = &cli.StringFlag{
	Name:    "location",
	Aliases: []string{"l"},
	Usage:   "`LOCATION` to run the space at, or auto (default: the connected server's)",
}

// spaceLocationArg checks --location of knot space create.
func spaceLocationArg(c *cli.Context) (string, error) {
	if !c.IsSet("location") {
		return "", nil
	}
	loc := strings.TrimSpace(c.String("location"))
	if loc == "" {
		return "", usagef(c, "--location is empty: give a location's name or auto")
	}
	return loc, nil
}

// templateFlag is knot space create's --template, the predecessor's way of
// naming the template.
var templateFlag = &cli.StringFlag{
	Name:  "template",
	Usage: "`TEMPLATE` of the space, instead of the second argument",
}

// spaceCreateArgs returns NAME and TEMPLATE of knot space create, given as
// two arguments or as NAME and --template.
func spaceCreateArgs(c *cli.Context) ([2]string, error) {
	if !c.IsSet("template") {
		if err := wantArgs(c, "NAME", "TEMPLATE"); err != nil {
			return [2]string{}, err
		}
		return [2]string{c.Args().Get(0), c.Args().Get(1)}, nil
	}
	if c.NArg() > 1 {
		return [2]string{}, usagef(c, "give the template once: as --template or as the second argument, not both")
	}
	if err := wantArgs(c, "NAME"); err != nil {
		return [2]string{}, err
	}
	t := strings.TrimSpace(c.String("template"))
	if t == "" {
		return [2]string{}, usagef(c, "--template is empty")
	}
	return [2]string{c.Args().First(), t}, nil
}

// createdAt returns " at location L" for a space created with a location
// asked for (auto in particular), "" otherwise or when the space cannot be
// read back.
func createdAt(ctx context.Context, cl *client.Client, id, asked string) string {
	if asked == "" || id == "" {
		return ""
	}
	sp, err := cl.Spaces().Get(ctx, id)
	if err != nil || sp.Location == "" {
		return ""
	}
	return " at location " + sp.Location
}

// shortNames are the one-letter names of client flags, as the predecessor
// had them: -s for --server, -t for --token.
var shortNames = map[string]string{"server": "s", "token": "t"}

// withShortName gives the client flag f its one-letter name, if it has one
// and the command's own flags (own) do not use that letter: knot space exec
// keeps -t for a terminal, as ssh and docker exec have it, and takes the
// token as --token.
func withShortName(f cli.Flag, own map[string]bool) cli.Flag {
	sf, ok := f.(*cli.StringFlag)
	if !ok || shortNames[sf.Name] == "" || own[shortNames[sf.Name]] {
		return f
	}
	sf.Aliases = append(sf.Aliases, shortNames[sf.Name])
	return sf
}

// locationHelp explains --location of knot space create.
const locationHelp = "--location names the location whose server runs the space: the origin's own location or a\n" +
	"leaf's. auto (at an origin) picks, among the locations whose server runs the template's kind\n" +
	"and that the template allows, the one with the fewest running spaces. Without it the space\n" +
	"runs at the connected server's location. knot's predecessor named the server with --server;\n" +
	"knot does not take --server for this, as --server (-s) names the knot server to talk to."
