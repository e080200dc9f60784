package main

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/leaf/leafsim"
	"github.com/knot-dev/knot/leaf/leafsim/bench"
	"github.com/knot-dev/knot/shared"
)

const benchHelp = `knot bench replication drives a running origin with simulated leaves:
real websocket clients of the leaf protocol, run in this process, each with
its own node id and location (<prefix>-000000, ...), all presenting the
origin's shared token. It makes its changes through the REST API with an
admin's API token (Manage Templates, and Manage Users to seed users), and
measures on the leaves. Run it on a test origin: it creates templates and
users named after --prefix.

Scenarios:
  fanout   connect the leaves, then update a template's spec --updates times,
           one after another, and report for each update the time from the
           write call until every leaf applied it (p50, p99, max), and the
           origin's memory before the leaves and with them idle (the heap
           found live only after a GC cycle of the origin: see --gc-wait).
  restart  connect the leaves, then wait for the origin to restart (run
           --restart-command, or restart it by hand) and report the time
           until every leaf is connected and current again.
  catchup  make sure --changes templates exist, connect the leaves, take one
           leaf away, update every template once, bring the leaf back, and
           report the time until it is current and the bytes it received,
           beside the bytes of its first snapshot (the whole data set).
  join     optionally seed --seed-users users and --seed-templates templates,
           then connect the leaves as new leaves and report the time until
           all are current and the size of the snapshot.

Templates made for catchup and join (<prefix>-catchup-N, <prefix>-seed-N)
and seeded users (<prefix>-user-N) are kept, so that the next run finds
them; the template of fanout is deleted unless --keep is given.

The origin's memory is read from its /metrics, which names the series used.
Every wait is bounded by --timeout; the command stops by itself.`

func benchCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:      "bench",
		Usage:     "Measure a running knot server",
		UsageText: "knot bench COMMAND [options]",
		Action:    unknownCommand,
		Subcommands: []*cli.Command{
			{
				Name:        "replication",
				Usage:       "Drive an origin with simulated leaves and measure how fast changes reach them",
				UsageText:   "knot bench replication --origin URL --shared-token TOKEN --admin-token TOKEN [options]",
				Description: benchHelp,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "origin", Usage: "the origin's URL, http(s)://host:port", Required: true},
					&cli.StringFlag{Name: "shared-token", Usage: "the origin's shared token, presented by every simulated leaf", EnvVars: []string{"KNOT_BENCH_SHARED_TOKEN"}},
					&cli.StringFlag{Name: "admin-token", Usage: "an API token of an admin of the origin, for the REST calls", EnvVars: []string{"KNOT_BENCH_ADMIN_TOKEN"}},
					&cli.IntFlag{Name: "leaves", Value: 1000, Usage: fmt.Sprintf("simulated leaves, 1 to %d", leafsim.MaxLeaves)},
					&cli.IntFlag{Name: "updates", Value: 20, Usage: fmt.Sprintf("fanout: template updates, 1 to %d", bench.MaxUpdates)},
					&cli.IntFlag{Name: "spec-size", Value: 2048, Usage: fmt.Sprintf("bytes of the container spec of each template, %d to %d", bench.MinSpecSize, bench.MaxSpecSize)},
					&cli.StringFlag{Name: "scenario", Value: "fanout", Usage: "fanout, restart, catchup or join"},
					&cli.IntFlag{Name: "changes", Value: 10000, Usage: fmt.Sprintf("catchup: changes the absent leaf misses, 1 to %d", bench.MaxChanges)},
					&cli.IntFlag{Name: "seed-users", Usage: fmt.Sprintf("join: make sure the origin holds this many bench users, 0 to %d (each hashes a password: slow)", bench.MaxChanges)},
					&cli.IntFlag{Name: "seed-templates", Usage: fmt.Sprintf("join: make sure the origin holds this many bench templates, 0 to %d", bench.MaxChanges)},
					&cli.StringFlag{Name: "prefix", Value: "bench", Usage: "starts the names of the simulated leaves and of the records made"},
					&cli.DurationFlag{Name: "timeout", Value: 10 * time.Minute, Usage: "the longest the whole run may take"},
					&cli.DurationFlag{Name: "gc-wait", Value: 150 * time.Second, Usage: "fanout: how long to wait, with the leaves idle, for a GC cycle of the origin, which tells its live heap (Go forces one every 2 minutes); 0 skips it; --timeout bounds it too"},
					&cli.StringFlag{Name: "restart-command", Usage: "restart: a shell command that restarts the origin; without it, restart the origin by hand when asked"},
					&cli.BoolFlag{Name: "keep", Usage: "keep the templates made for the run"},
				},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					opts, err := benchFlags(c)
					if err != nil {
						return err
					}
					return bench.Run(c.Context, opts, s.stdout, s.stderr)
				},
			},
		},
	}
}

// benchFlags reads and checks the flags.
func benchFlags(c *cli.Context) (bench.Options, error) {
	o := bench.Options{
		Origin: strings.TrimRight(c.String("origin"), "/"), SharedToken: c.String("shared-token"), AdminToken: c.String("admin-token"),
		Leaves: c.Int("leaves"), Updates: c.Int("updates"), SpecSize: c.Int("spec-size"), Scenario: c.String("scenario"),
		Changes: c.Int("changes"), SeedUsers: c.Int("seed-users"), SeedTemplates: c.Int("seed-templates"),
		Prefix: c.String("prefix"), Timeout: c.Duration("timeout"), GCWait: c.Duration("gc-wait"), RestartCommand: c.String("restart-command"), Keep: c.Bool("keep"),
		Version: version,
	}
	u, err := url.Parse(o.Origin)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return o, usagef(c, "--origin %q must be an http:// or https:// URL with a host", o.Origin)
	case o.SharedToken == "":
		return o, usagef(c, "--shared-token (or $KNOT_BENCH_SHARED_TOKEN) is required: the simulated leaves present it")
	case o.AdminToken == "":
		return o, usagef(c, "--admin-token (or $KNOT_BENCH_ADMIN_TOKEN) is required: the changes go through the REST API")
	case o.Leaves < 1 || o.Leaves > leafsim.MaxLeaves:
		return o, usagef(c, "--leaves must be from 1 to %d, not %d", leafsim.MaxLeaves, o.Leaves)
	case o.Updates < 1 || o.Updates > bench.MaxUpdates:
		return o, usagef(c, "--updates must be from 1 to %d, not %d", bench.MaxUpdates, o.Updates)
	case o.SpecSize < bench.MinSpecSize || o.SpecSize > bench.MaxSpecSize:
		return o, usagef(c, "--spec-size must be from %d to %d bytes, not %d", bench.MinSpecSize, bench.MaxSpecSize, o.SpecSize)
	case o.Changes < 1 || o.Changes > bench.MaxChanges:
		return o, usagef(c, "--changes must be from 1 to %d, not %d", bench.MaxChanges, o.Changes)
	case o.SeedUsers < 0 || o.SeedUsers > bench.MaxChanges || o.SeedTemplates < 0 || o.SeedTemplates > bench.MaxChanges:
		return o, usagef(c, "--seed-users and --seed-templates must be from 0 to %d", bench.MaxChanges)
	case !shared.ValidName(o.Prefix) || len(o.Prefix) > 24:
		return o, usagef(c, "--prefix %q must start with a letter and hold 2 to 24 letters, digits or single dashes", o.Prefix)
	case o.Timeout <= 0:
		return o, usagef(c, "--timeout must be positive")
	case o.GCWait < 0:
		return o, usagef(c, "--gc-wait must not be negative, not %s", o.GCWait)
	}
	switch o.Scenario {
	case "fanout", "restart", "join":
	case "catchup":
		if o.Leaves < 2 {
			return o, usagef(c, "--scenario catchup needs at least 2 leaves: one is taken away")
		}
	default:
		return o, usagef(c, "--scenario %q is not one of fanout, restart, catchup, join", o.Scenario)
	}
	return o, nil
}
