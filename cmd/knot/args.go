package main

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// flagsFirst returns args with the flags of the command they name moved in
// front of its arguments, so that "knot space logs dev -f" means
// "knot space logs -f dev": the command-line parser stops at the first
// argument. Everything after "--" stays an argument. args[0] is the program
// name; args that do not start with a command name are returned as they are.
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	cmds := app.Commands
	var cmd *cli.Command
	prefix := []string{args[0]}
	var carried []string // the predecessor's global --config, for the command
	i := 1
	for ; i < len(args); i++ {
		if n := globalFlagArgs(app, args[i]); n > 0 && cmd == nil {
			prefix = append(prefix, args[i:min(i+n, len(args))]...)
			i += n - 1
			continue
		}
		if n := globalConfigArgs(args[i]); n > 0 && cmd == nil && i+n <= len(args) {
			carried = append(carried, args[i:i+n]...)
			i += n - 1
			continue
		}
		next := findCommand(cmds, args[i])
		if next == nil {
			break
		}
		prefix = append(prefix, args[i])
		cmd, cmds = next, next.Subcommands
	}
	if cmd == nil || len(cmd.Subcommands) > 0 || (carried != nil && !takesValue(cmd, "config")) {
		return args
	}
	flags, rest := carried, []string(nil)
	dashes := false
	for j := i; j < len(args); j++ {
		a := args[j]
		if a == "--" {
			rest = append(rest, args[j+1:]...)
			dashes = true
			break
		}
		if len(a) < 2 || a[0] != '-' {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if takesValue(cmd, name) && j+1 < len(args) {
			j++
			flags = append(flags, args[j])
		}
	}
	out := make([]string, 0, len(args)+1)
	out = append(out, prefix...)
	out = append(out, flags...)
	if dashes {
		out = append(out, "--")
	}
	return append(out, rest...)
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// takesValue reports whether the flag name of cmd is followed by a value:
// every flag but a boolean one. Unknown flags are left for the parser to
// refuse.
func takesValue(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			_, isBool := f.(*cli.BoolFlag)
			return !isBool
		}
	}
	return false
}

// globalConfigArgs returns how many arguments the predecessor's global
// --config (-c) takes up in front of the command name (knot -c FILE space
// list), which knot gives to the command: 2 for "-c FILE", 1 for
// "--config=FILE", 0 for anything else.
func globalConfigArgs(a string) int {
	switch name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "="); {
	case !strings.HasPrefix(a, "-") || (name != "c" && name != "config"):
		return 0
	case hasValue:
		return 1
	}
	return 2
}

// globalFlagArgs returns how many arguments the app's own flag a takes up
// before the command name (knot --log-level debug space list): 2 for
// "--log-level debug", 1 for "--log-level=debug", 0 for anything else.
func globalFlagArgs(app *cli.App, a string) int {
	name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
	if !strings.HasPrefix(a, "-") {
		return 0
	}
	for _, f := range app.Flags {
		if !slices.Contains(f.Names(), name) {
			continue
		}
		if _, isBool := f.(*cli.BoolFlag); isBool || hasValue {
			return 1
		}
		return 2
	}
	return 0
}
