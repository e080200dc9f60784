package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/agent"
)

// loopbackPort returns 127.0.0.1:port, or "" for port 0.
func loopbackPort(port int) string {
	if port == 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// agentCommand is knot agent, run inside a space.
func agentCommand() *cli.Command {
	// The predecessor's agent read dns.* and --dns-listen, which the
	// table holds as server.dns.listen, the server's flag of that name.
	flags := append(keyFlags("agent.", "log."), legacyFlags("agent.", "log.", "dns.", "server.dns.listen")...)
	return &cli.Command{
		Name:  "agent",
		Usage: "Run the agent of a space: link it to its leaf and serve its terminals",
		Description: "Runs inside a space. It finds the leaf at $KNOT_AGENT_ENDPOINT (host:port, or srv+name\n" +
			"for a DNS SRV lookup, made again before every dial), verifies the leaf's certificate by its\n" +
			"SHA-256 fingerprint ($KNOT_AGENT_FINGERPRINT), presents the space's token ($KNOT_AGENT_TOKEN)\n" +
			"for the space $KNOT_SPACE_ID, and keeps the link up, dialling again with backoff when it\n" +
			"breaks. Terminal sessions outlive a broken link for agent.terminal_keep. Its own log, the\n" +
			"syslog messages it takes on 127.0.0.1:agent.syslog_port (UDP) and agent.syslog_socket, and\n" +
			"the lines posted to http://127.0.0.1:agent.api_port/logs go to the space's log (knot space\n" +
			"logs). It stops on SIGINT or SIGTERM.",
		Flags: flags,
		Action: func(c *cli.Context) (err error) {
			if err := noArgs(c); err != nil {
				return err
			}
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			logger := newLogger(c.App.ErrWriter, cfg)
			release, err := agent.Lock("", cfg.Agent.SpaceID)
			switch {
			case errors.Is(err, agent.ErrRunning):
				logger.Info("another agent of this space runs here; this one stops", "space_id", cfg.Agent.SpaceID)
				return nil
			case err != nil:
				logger.Warn("cannot take the agent's lock file; running anyway", "err", err)
			default:
				defer release()
			}
			if cfg.Agent.LogFile != "" {
				f, ferr := os.OpenFile(cfg.Agent.LogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
				if ferr != nil {
					logger.Warn("cannot open agent.log_file; logging to standard error only", "err", ferr)
				} else {
					// The error the agent stops with goes there too.
					defer func() {
						if err != nil {
							fmt.Fprintf(f, "knot: %v\n", err)
						}
						f.Close()
					}()
					logger = newLogger(io.MultiWriter(c.App.ErrWriter, f), cfg)
				}
			}
			opts := agent.Options{
				Endpoint:     cfg.Agent.Endpoint,
				SpaceID:      cfg.Agent.SpaceID,
				Token:        cfg.Agent.Token,
				Fingerprint:  cfg.Agent.Fingerprint,
				Nameservers:  cfg.Agent.Nameservers,
				Version:      version,
				KeepSessions: cfg.Agent.TerminalKeepDuration(),
				SyslogAddr:   loopbackPort(cfg.Agent.SyslogPort),
				SyslogSocket: cfg.Agent.SyslogSocket,
				IntakeAddr:   loopbackPort(cfg.Agent.APIPort),
				SSHPort:      cfg.Agent.SSHPort,
				Logger:       logger,
			}
			if cfg.Agent.SSHPort > 0 && cfg.Agent.UpdateAuthorizedKeys {
				home, err := os.UserHomeDir()
				if err != nil {
					return fmt.Errorf("agent.update_authorized_keys: %w", err)
				}
				opts.AuthorizedKeysFile = filepath.Join(home, ".ssh", "authorized_keys")
			}
			a, err := agent.New(opts)
			if err != nil {
				return err
			}
			return a.Run(c.Context)
		},
	}
}
