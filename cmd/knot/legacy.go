package main

import (
	"io"
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
// used, once, with where it was given.
func logWarnings(w io.Writer, cfg *config.Config) {
	if len(cfg.Warnings) == 0 {
		return
	}
	logger := newLogger(w, cfg)
	for _, warn := range cfg.Warnings {
		logger.Warn(warn.Message, "key", warn.Key, "source", warn.Source.String())
	}
}
