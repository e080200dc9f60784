package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/shared/crypt"
)

func scaffoldCommand() *cli.Command {
	kinds := []string{"server", "agent", "client"}
	var flags []cli.Flag
	for _, k := range kinds {
		flags = append(flags, &cli.BoolFlag{Name: k, Usage: "print a commented " + k + " configuration"})
	}
	return &cli.Command{
		Name:      "scaffold",
		Usage:     "Print a commented configuration file",
		UsageText: "knot scaffold --server|--agent|--client|--nomad|--nomad-template",
		Description: "--nomad prints a Nomad job that runs a knot server; --nomad-template prints a template file\n" +
			"(knot template import reads it) whose spaces are Nomad jobs.",
		Flags: append(flags,
			&cli.BoolFlag{Name: "nomad", Usage: "print a Nomad job that runs a knot server"},
			&cli.BoolFlag{Name: "nomad-template", Usage: "print a template file whose spaces are Nomad jobs"},
		),
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			var chosen []string
			for _, k := range append(kinds, "nomad", "nomad-template") {
				if c.Bool(k) {
					chosen = append(chosen, k)
				}
			}
			switch len(chosen) {
			case 0:
				return usagef(c, "say what to scaffold: --server, --agent, --client, --nomad or --nomad-template")
			case 1:
			default:
				return usagef(c, "give only one of --server, --agent, --client, --nomad and --nomad-template")
			}
			text, err := scaffoldText(chosen[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(c.App.Writer, text)
			return err
		},
	}
}

func genkeyCommand() *cli.Command {
	return &cli.Command{
		Name:  "genkey",
		Usage: "Print a new key for server.encrypt (32 letters and digits)",
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			_, err := fmt.Fprintln(c.App.Writer, crypt.GenerateKey())
			return err
		},
	}
}

func genServerKeyCommand() *cli.Command {
	return &cli.Command{
		Name:  "gen-server-key",
		Usage: "Print a new random token for server.shared_token",
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			_, err := fmt.Fprintln(c.App.Writer, crypt.NewToken())
			return err
		},
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "Print knot's version",
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			_, err := fmt.Fprintf(c.App.Writer, "knot %s\n", version)
			return err
		},
	}
}
