package main

import (
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/shared/config"
)

// legacyFlags returns a hidden flag for every flag of knot's predecessor
// whose key starts with one of prefixes, such as --enable-totp; config.Load
// reads them and warns (keys.md lists them).
func legacyFlags(prefixes ...string) []cli.Flag {
	var flags []cli.Flag
	for _, k := range config.LegacyKeys() {
		if k.Flag == "" || !hasPrefix(k.Path, prefixes) {
			continue
		}
		switch k.Kind {
		case config.ValueBool:
			flags = append(flags, &cli.BoolFlag{Name: k.Flag, Hidden: true})
		case config.ValueList:
			flags = append(flags, &cli.StringSliceFlag{Name: k.Flag, Hidden: true})
		default:
			flags = append(flags, &cli.StringFlag{Name: k.Flag, Hidden: true})
		}
	}
	return flags
}

// setLegacyFlags adds the predecessor's flags set on c's command line to
// flags, for config.Load.
func setLegacyFlags(c *cli.Context, flags map[string]string) {
	for _, k := range config.LegacyKeys() {
		if k.Flag == "" || !legacyFlagOf(c, k.Flag) || !c.IsSet(k.Flag) {
			continue
		}
		switch k.Kind {
		case config.ValueBool:
			flags[k.Flag] = strconv.FormatBool(c.Bool(k.Flag))
		case config.ValueList:
			flags[k.Flag] = strings.Join(c.StringSlice(k.Flag), ",")
		default:
			flags[k.Flag] = c.String(k.Flag)
		}
	}
}

// legacyFlagOf reports whether c's command has the flag name as one of
// legacyFlags, not as a flag of its own.
func legacyFlagOf(c *cli.Context, name string) bool {
	if c.Command == nil {
		return false
	}
	for _, f := range c.Command.Flags {
		if slices.Contains(f.Names(), name) {
			vf, ok := f.(cli.VisibleFlag)
			return ok && !vf.IsVisible()
		}
	}
	return false
}

// logWarnings logs each name of the predecessor's that the configuration
// used, once, with where it was given. A variable only the predecessor's
// agent read is the agent's business: other commands (a server started
// in an agent's environment) do not warn about it.
func logWarnings(w io.Writer, cfg *config.Config, agent bool) {
	var logger *slog.Logger
	for _, warn := range cfg.Warnings {
		if !agent && warn.ForAgent() && warn.Source.Kind == config.SourceEnv {
			continue
		}
		if logger == nil {
			logger = newLogger(w, cfg)
		}
		logger.Warn(warn.Message, "key", warn.Key, "source", warn.Source.String())
	}
}

// serverAgentEndpointFlag is the predecessor's server's --agent-endpoint,
// which knot's server accepts only to say it is not its flag.
var serverAgentEndpointFlag = &cli.StringFlag{Name: "agent-endpoint", Hidden: true}

// warnAgentEndpoint warns once when a server is given $KNOT_AGENT_ENDPOINT
// and not $KNOT_SERVER_AGENT_ENDPOINT, or --agent-endpoint and not
// --server-agent-endpoint: for the predecessor's server they set the
// endpoint agents are given; in knot they are the agent's agent.endpoint
// and the server does not read them.
func warnAgentEndpoint(c *cli.Context, cfg *config.Config, lookup func(string) (string, bool)) {
	name, use, source := "--agent-endpoint", "--server-agent-endpoint", "flag --agent-endpoint"
	if !c.IsSet(serverAgentEndpointFlag.Name) || c.IsSet("server-agent-endpoint") {
		v, ok := lookup("KNOT_AGENT_ENDPOINT")
		if _, set := lookup("KNOT_SERVER_AGENT_ENDPOINT"); !ok || v == "" || set {
			return
		}
		name, use, source = "KNOT_AGENT_ENDPOINT", "KNOT_SERVER_AGENT_ENDPOINT", "env KNOT_AGENT_ENDPOINT"
	}
	newLogger(c.App.ErrWriter, cfg).Warn(name+" is the agent's setting (agent.endpoint), not the server's, and the server ignores it;"+
		" the predecessor's server read it as its agent endpoint: use "+use+" (server.agent_endpoint)",
		"key", "server.agent_endpoint", "source", source)
}
