package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/shared/config"
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
		UsageText: "knot scaffold --server|--agent|--client > knot.yaml",
		Flags:     flags,
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			var chosen []string
			for _, k := range kinds {
				if c.Bool(k) {
					chosen = append(chosen, k)
				}
			}
			switch len(chosen) {
			case 0:
				return usagef(c, "say what to scaffold: --server, --agent or --client")
			case 1:
			default:
				return usagef(c, "give only one of --server, --agent and --client")
			}
			text, err := config.Scaffold(chosen[0])
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
