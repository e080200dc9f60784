package main

import (
	"os"

	"github.com/urfave/cli/v2"
)

func serverCommand() *cli.Command {
	return &cli.Command{
		Name:  "server",
		Usage: "Run a knot server: standalone, origin or leaf, as its configuration says",
		Description: "Reads knot.yaml (or the file named by --config or $KNOT_CONFIG), then $KNOT_* variables,\n" +
			"then the flags below, each overriding the one before. With no shared_token the server is\n" +
			"standalone; with shared_token it is an origin; with origin_server as well, it is a leaf.\n" +
			"It stops cleanly on SIGINT or SIGTERM. With --print-fingerprint it prints the SHA-256\n" +
			"fingerprint of the TLS certificate it would serve (making the self-signed one if need be) and exits:\n" +
			"the web listener's, which its agents pin too, or with plain HTTP the agent listener's.",
		Flags: append(append(keyFlags("server.", "resolver.", "log."), legacyFlags("server.", "resolver.", "log.")...), printFingerprintFlag, serverAgentEndpointFlag),
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			warnAgentEndpoint(c, cfg, os.LookupEnv)
			if c.Bool(printFingerprintFlag.Name) {
				return printFingerprint(c.App.Writer, c.App.ErrWriter, cfg)
			}
			return runServer(c.Context, cfg, newLogger(c.App.ErrWriter, cfg))
		},
	}
}
