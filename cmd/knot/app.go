package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/shared/config"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError is a mistake on the command line: an unknown command or flag, a
// missing or extra argument, a bad flag value. It exits with status 2.
type usageError struct {
	cmd string // the command's full name, for the help hint
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(c *cli.Context, format string, args ...any) error {
	return &usageError{cmd: commandName(c), err: fmt.Errorf(format, args...)}
}

// commandName returns "knot server" for the context of knot server.
func commandName(c *cli.Context) string {
	var names []string
	for _, cc := range c.Lineage() {
		if cc.Command != nil && cc.Command.Name != "" {
			names = append([]string{cc.Command.Name}, names...)
		}
	}
	if len(names) == 0 || names[0] != "knot" {
		names = append([]string{"knot"}, names...)
	}
	return strings.Join(names, " ")
}

// io holds the streams of one run.
type streams struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// run runs knot with args (args[0] is the program name) and returns the exit
// status: 0 on success, 1 on failure, 2 on a usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(streams{stdin: stdin, stdout: stdout, stderr: stderr})
	err := app.RunContext(ctx, flagsFirst(app, args))
	if err == nil {
		return exitOK
	}
	var ue *usageError
	var ec cli.ExitCoder
	var es *exitStatus
	switch {
	case errors.As(err, &es):
		return es.code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %v\n", ue.cmd, ue.err)
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", ue.cmd)
		return exitUsage
	case errors.As(err, &ec):
		// urfave/cli's own errors, such as "No help topic for 'x'" (3).
		if msg := err.Error(); msg != "" {
			fmt.Fprintf(stderr, "knot: %s\n", msg)
		}
		if ec.ExitCode() == 3 {
			fmt.Fprintln(stderr, "Run 'knot --help' for usage.")
			return exitUsage
		}
		return ec.ExitCode()
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(stderr, "knot: %s\n", line)
	}
	return exitError
}

func newApp(s streams) *cli.App {
	app := &cli.App{
		Name:      "knot",
		Usage:     "cloud development environments for a team",
		UsageText: "knot COMMAND [options] [arguments]",
		Version:   version,
		Writer:    s.stdout,
		ErrWriter: s.stderr,
		Reader:    s.stdin,
		// Errors are printed and turned into exit statuses by run.
		ExitErrHandler: func(*cli.Context, error) {},
		Action:         unknownCommand,
		Flags:          []cli.Flag{logLevelFlag},
		Commands: []*cli.Command{
			serverCommand(),
			adminCommand(s),
			connectCommand(s),
			pingCommand(),
			withShell(spaceCommand()),
			forwardCommand(), sshConfigCommand(), sshKeyCommand(),
			agentCommand(),
			templateCommand(s),
			benchCommand(s),
			leafCommand(),
			devCommand(),
			scaffoldCommand(),
			genkeyCommand(),
			genServerKeyCommand(),
			versionCommand(),
		},
	}
	app.OnUsageError = onUsageError
	setUsageErrors(app.Commands)
	return app
}

// onUsageError turns a flag parsing error into a usageError.
func onUsageError(c *cli.Context, err error, _ bool) error {
	return &usageError{cmd: commandName(c), err: err}
}

func setUsageErrors(cmds []*cli.Command) {
	for _, cmd := range cmds {
		cmd.OnUsageError = onUsageError
		setUsageErrors(cmd.Subcommands)
	}
}

// unknownCommand is the action of knot and of commands that only hold
// subcommands: it shows help when no command is given and refuses an
// unknown one.
func unknownCommand(c *cli.Context) error {
	if c.NArg() > 0 {
		if advice := predecessorAdvice(c, c.Args().First()); advice != "" {
			return usagef(c, "%s", advice)
		}
		return usagef(c, "unknown command %q", c.Args().First())
	}
	_ = cli.ShowSubcommandHelp(c)
	return usagef(c, "no command given")
}

// noArgs refuses positional arguments; one that names a subcommand of
// knot's predecessor gets what to use instead.
func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		if advice := predecessorAdvice(c, c.Args().First()); advice != "" {
			return usagef(c, "%s", advice)
		}
		return usagef(c, "unexpected argument %q", c.Args().First())
	}
	return nil
}

// configFlag names the configuration file.
var configFlag = &cli.StringFlag{
	Name:    "config",
	Aliases: []string{"c"},
	Usage:   "configuration file; without it, $KNOT_CONFIG, else ./knot.yaml when it exists",
}

// keyFlags returns a flag for every configuration key whose path starts with
// one of prefixes. Values are not read here: loadConfig passes the flags
// that were set to config.Load, which checks them.
func keyFlags(prefixes ...string) []cli.Flag {
	flags := []cli.Flag{configFlag}
	for _, k := range config.Keys() {
		if !hasPrefix(k.Path, prefixes) {
			continue
		}
		usage := fmt.Sprintf("%s [%s: $%s]", k.Doc, k.Path, k.Env)
		category := k.Path[:strings.LastIndexByte(k.Path, '.')]
		var f cli.Flag
		switch k.Kind {
		case config.ValueBool:
			f = &cli.BoolFlag{Name: k.Flag, Usage: usage, Category: category, DefaultText: k.Default}
		case config.ValueList:
			f = &cli.StringSliceFlag{Name: k.Flag, Usage: usage + " (comma-separated or repeated)", Category: category, DefaultText: k.Default}
		default:
			f = &cli.StringFlag{Name: k.Flag, Usage: usage, Category: category, DefaultText: k.Default}
		}
		flags = append(flags, f)
	}
	return flags
}

func hasPrefix(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// loadConfig loads the configuration with the key flags set on c's command
// line. A bad flag value is a usage error.
func loadConfig(c *cli.Context) (*config.Config, error) {
	return loadConfigFile(c, "")
}

// loadConfigFile is loadConfig reading file when no --config is given; ""
// means the file named by $KNOT_CONFIG, else ./knot.yaml when it exists.
func loadConfigFile(c *cli.Context, file string) (*config.Config, error) {
	opts := config.Options{Flags: map[string]string{}}
	for _, cc := range c.Lineage() {
		if opts.File == "" && cc.IsSet("config") {
			opts.File = cc.String("config")
		}
	}
	if opts.File == "" {
		opts.File = file
	}
	for _, k := range config.Keys() {
		if !c.IsSet(k.Flag) || ownFlag(c, k) || legacyFlagOf(c, k.Flag) {
			continue
		}
		switch k.Kind {
		case config.ValueBool:
			opts.Flags[k.Flag] = strconv.FormatBool(c.Bool(k.Flag))
		case config.ValueList:
			opts.Flags[k.Flag] = strings.Join(c.StringSlice(k.Flag), ",")
		default:
			opts.Flags[k.Flag] = c.String(k.Flag)
		}
	}
	opts.LegacyFlags = map[string]string{}
	setLegacyFlags(c, opts.LegacyFlags)
	setGlobalLogLevel(c, opts.Flags)
	cfg, err := config.Load(opts)
	if err != nil {
		if config.FromFlag(err) {
			return nil, &usageError{cmd: commandName(c), err: err}
		}
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	logWarnings(c.App.ErrWriter, cfg, commandName(c) == "knot agent")
	return cfg, nil
}

// ownFlag reports whether the flag named like key k on c's command is one
// of the command's own, not the key's (knot leaf token create --location
// names the leaf's location, not server.location): keyFlags gives a key's
// flag the key's section as its category.
func ownFlag(c *cli.Context, k config.Key) bool {
	if c.Command == nil {
		return false
	}
	for _, f := range c.Command.Flags {
		if !slices.Contains(f.Names(), k.Flag) {
			continue
		}
		cf, ok := f.(cli.CategorizableFlag)
		return !ok || cf.GetCategory() != k.Path[:strings.LastIndexByte(k.Path, '.')]
	}
	return false
}

// newLogger returns a text logger on w at the configured level.
func newLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: cfg.Log.SlogLevel()}))
}
