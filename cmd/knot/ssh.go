package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/coder/websocket"
	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
)

// The markers of the block knot ssh-config manages in ~/.ssh/config.
const (
	sshConfigStart = "#===KNOT-START==="
	sshConfigEnd   = "#===KNOT-END==="
	sshHostPrefix  = "knot."
)

func sshKeyCommand() *cli.Command {
	return &cli.Command{
		Name:  "ssh-key",
		Usage: "List, add and remove the SSH public keys of your profile",
		Description: "The keys of your profile sign you in to the SSH of your spaces (knot ssh-config, knot\n" +
			"forward ssh). --user names another user, for a user with Manage Users.",
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Usage:     "List your SSH public keys",
				UsageText: "knot ssh-key list [options]",
				Description: "Prints the id, fingerprint and name of each key; then each line of the older single\n" +
					"ssh_public_key field of your profile as ssh_public_key:LINE with its fingerprint (or why\n" +
					"it is not a key) and comment. Those are removed by editing that field.",
				Flags: clientFlags(sshUserFlag()),
				Action: func(c *cli.Context) error {
					return withSSHUser(c, func(cl *client.Client, id string) error {
						keys, err := cl.Users().SSHKeys(c.Context, id)
						if err != nil {
							return err
						}
						if len(keys.Keys)+len(keys.LegacyKeys) == 0 {
							_, err := fmt.Fprintln(c.App.Writer, "No SSH public keys; knot ssh-key add FILE.pub adds one.")
							return err
						}
						for _, k := range keys.Keys {
							fmt.Fprintf(c.App.Writer, "%s  %s  %s\n", k.ID, k.Fingerprint, k.Name)
						}
						// The older field's keys have no id: their line marks them.
						for _, k := range keys.LegacyKeys {
							fmt.Fprintln(c.App.Writer, strings.TrimSpace(fmt.Sprintf("ssh_public_key:%d  %s  %s", k.Line, cmp.Or(k.Fingerprint, k.Error), k.Comment)))
						}
						return nil
					})
				},
			},
			{
				Name:      "add",
				Usage:     "Add a public key (a .pub file, or - for standard input)",
				UsageText: "knot ssh-key add [options] FILE",
				Flags:     clientFlags(sshUserFlag(), &cli.StringFlag{Name: "name", Usage: "the key's `NAME` (default: its comment)"}),
				Action: func(c *cli.Context) error {
					if err := wantArgs(c, "FILE"); err != nil {
						return err
					}
					var data []byte
					var err error
					if f := c.Args().First(); f == "-" {
						data, err = io.ReadAll(io.LimitReader(c.App.Reader, 64<<10))
					} else {
						data, err = os.ReadFile(f)
					}
					if err != nil {
						return err
					}
					return withSSHUser(c, func(cl *client.Client, id string) error {
						k, err := cl.Users().AddSSHKey(c.Context, id, api.SSHKeyAddRequest{Name: c.String("name"), Key: string(data)})
						if err != nil {
							return err
						}
						fmt.Fprintf(c.App.Writer, "added %s  %s  %s\n", k.ID, k.Fingerprint, k.Name)
						return nil
					})
				},
			},
			{
				Name:      "remove",
				Usage:     "Remove a key, by its id or fingerprint",
				UsageText: "knot ssh-key remove [options] ID|FINGERPRINT",
				Flags:     clientFlags(sshUserFlag()),
				Action: func(c *cli.Context) error {
					if err := wantArgs(c, "ID|FINGERPRINT"); err != nil {
						return err
					}
					return withSSHUser(c, func(cl *client.Client, id string) error {
						if err := cl.Users().RemoveSSHKey(c.Context, id, c.Args().First()); err != nil {
							return err
						}
						_, err := fmt.Fprintf(c.App.Writer, "removed %s\n", c.Args().First())
						return err
					})
				},
			},
		},
	}
}

func sshUserFlag() cli.Flag {
	return &cli.StringFlag{Name: "user", Usage: "the `USER_ID` whose keys to manage (default: yours)"}
}

// withSSHUser runs fn with a client and the id of the user whose keys the
// command manages.
func withSSHUser(c *cli.Context, fn func(*client.Client, string) error) error {
	return withClient(c, func(cl *client.Client) error {
		id := c.String("user")
		if id == "" {
			me, err := cl.Users().WhoAmI(c.Context)
			if err != nil {
				return err
			}
			id = me.ID
		}
		return fn(cl, id)
	})
}

// forwardSSHCommand is knot forward ssh.
func forwardSSHCommand() *cli.Command {
	return &cli.Command{
		Name:      "ssh",
		Usage:     "Speak SSH to a space on standard input and output (an OpenSSH ProxyCommand)",
		UsageText: "knot forward ssh [options] SPACE",
		Description: "Connects standard input and output to the SSH server of the space SPACE (or knot.SPACE,\n" +
			"as ssh passes %n), through your knot server. knot ssh-config update writes it into\n" +
			"~/.ssh/config as each space's ProxyCommand.",
		Flags: clientFlags(),
		Action: func(c *cli.Context) error {
			if err := wantArgs(c, "SPACE"); err != nil {
				return err
			}
			return withClient(c, func(cl *client.Client) error {
				sp, err := sshSpace(c.Context, cl, c.Args().First())
				if err != nil {
					return err
				}
				return forwardSSH(c, cl, sp.ID)
			})
		},
	}
}

// sshSpace finds the space a Host name of ssh-config names: knot.NAME, or
// knot.NAME.LOCATION for a name held at several locations.
func sshSpace(ctx context.Context, cl *client.Client, host string) (*api.Space, error) {
	name := strings.TrimPrefix(host, sshHostPrefix)
	sp, err := findSpace(ctx, cl, name)
	if err != nil {
		if i := strings.LastIndexByte(name, '.'); i > 0 {
			if sp2, err2 := findSpace(ctx, cl, name[:i]+"@"+name[i+1:]); err2 == nil {
				return sp2, nil
			}
		}
	}
	return sp, err
}

// forwardSSH relays standard input and output to the space's SSH
// connection, in binary messages. The end of standard input is a
// half-close ({"type":"eof"}): the space reads EOF and what it still sends
// comes out; the space's own end of writing closes standard output. It
// returns once the server ends the connection, after both sides ended
// their writing, or when it breaks.
func forwardSSH(c *cli.Context, cl *client.Client, spaceID string) error {
	dctx, cancel := context.WithTimeout(c.Context, requestTimeout)
	conn, err := cl.Spaces().SSH(dctx, spaceID)
	cancel()
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	ctx, stop := context.WithCancel(c.Context)
	defer stop()
	var eofSent atomic.Bool
	go func() { // here → space
		eof, _ := json.Marshal(api.TerminalMessage{Type: "eof"})
		buf := make([]byte, 32<<10)
		for {
			n, err := c.App.Reader.Read(buf)
			if n > 0 && conn.Write(ctx, websocket.MessageBinary, buf[:n]) != nil {
				stop()
				return
			}
			if errors.Is(err, io.EOF) {
				eofSent.Store(true)
				if conn.Write(ctx, websocket.MessageText, eof) != nil {
					stop()
				}
				return
			}
			if err != nil {
				stop()
				return
			}
		}
	}()
	for { // space → here
		typ, r, err := conn.Reader(ctx)
		if err != nil {
			// A server older than half-closes refuses the eof message;
			// this side had ended anyway.
			if ctx.Err() != nil || websocket.CloseStatus(err) == websocket.StatusNormalClosure || (eofSent.Load() && websocket.CloseStatus(err) != -1) {
				return nil
			}
			return fmt.Errorf("the SSH connection broke: %w", err)
		}
		if typ == websocket.MessageText { // the space wrote its last byte
			io.Copy(io.Discard, r)
			if f, ok := c.App.Writer.(*os.File); ok {
				f.Close()
			}
			continue
		}
		if _, err := io.Copy(c.App.Writer, r); err != nil {
			return nil // standard output is gone
		}
	}
}

func sshConfigCommand() *cli.Command {
	return &cli.Command{
		Name:  "ssh-config",
		Usage: "Manage the knot block of ~/.ssh/config: a Host knot.SPACE for each of your spaces",
		Description: "update writes, between " + sshConfigStart + " and " + sshConfigEnd + " in ~/.ssh/config,\n" +
			"a Host knot.SPACE for each space you own, reached with knot forward ssh as ProxyCommand,\n" +
			"and the spaces' host keys into ~/.ssh/knot_known_hosts, which the block names as\n" +
			"UserKnownHostsFile, so ssh, scp, sftp, rsync and IDEs check them. remove takes both out.\n" +
			"Then: ssh knot.SPACE. Add your public key first: knot ssh-key add ~/.ssh/id_ed25519.pub.",
		Subcommands: []*cli.Command{
			{
				Name:      "update",
				Usage:     "Write a Host for each of your spaces and their host keys",
				UsageText: "knot ssh-config update [options]",
				Flags:     clientFlags(),
				Action: func(c *cli.Context) error {
					return withClient(c, func(cl *client.Client) error { return updateSSHConfig(c, cl) })
				},
			},
			{
				Name:      "remove",
				Usage:     "Take the knot block out of ~/.ssh/config",
				UsageText: "knot ssh-config remove",
				Action: func(c *cli.Context) error {
					cfgFile, known, err := sshFiles()
					if err != nil {
						return err
					}
					changed, err := writeSSHBlock(cfgFile, "")
					if err != nil {
						return err
					}
					if err := os.Remove(known); err != nil && !errors.Is(err, os.ErrNotExist) {
						return err
					}
					if !changed {
						fmt.Fprintf(c.App.Writer, "%s has no knot block: nothing to remove\n", cfgFile)
						return nil
					}
					fmt.Fprintf(c.App.Writer, "removed the knot block from %s\n", cfgFile)
					return nil
				},
			},
		},
	}
}

// sshFiles returns ~/.ssh/config and the known_hosts file knot manages.
func sshFiles() (config, known string, err error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", "", fmt.Errorf("cannot find your home directory: %w", err)
	}
	dir := filepath.Join(home, ".ssh")
	return filepath.Join(dir, "config"), filepath.Join(dir, "knot_known_hosts"), nil
}

// updateSSHConfig writes the block and the known_hosts file for the
// caller's spaces.
func updateSSHConfig(c *cli.Context, cl *client.Client) error {
	cfgFile, known, err := sshFiles()
	if err != nil {
		return err
	}
	me, err := cl.Users().WhoAmI(c.Context)
	if err != nil {
		return err
	}
	spaces, err := cl.Spaces().List(c.Context, client.SpaceListOptions{})
	if err != nil {
		return err
	}
	proxy, fromFile, err := proxyCommand(c)
	if err != nil {
		return err
	}
	names := map[string]int{}
	for _, sp := range spaces {
		names[strings.ToLower(sp.Name)]++
	}
	var block, hosts strings.Builder
	block.WriteString(sshConfigStart + "\n# Written by knot ssh-config update; knot ssh-config remove takes it out.\n")
	n := 0
	for _, sp := range spaces {
		if sp.UserID != me.ID {
			continue
		}
		if !sp.WithSSH {
			fmt.Fprintf(c.App.ErrWriter, "knot: space %s is left out: its template %s allows no SSH (with_ssh is off)\n", sp.Name, sp.TemplateName)
			continue
		}
		host := sshHostPrefix + sp.Name
		if names[strings.ToLower(sp.Name)] > 1 {
			host += "." + sp.Location
		}
		// Every key the space may present: its image's own sshd's, when
		// its agent reported them, and its own.
		keys := sp.SSHHostKeys
		if len(keys) == 0 && sp.SSHHostKey != "" {
			keys = []string{sp.SSHHostKey}
		}
		if len(keys) == 0 {
			if info, err := cl.Spaces().SSHInfo(c.Context, sp.ID); err == nil {
				keys = info.HostKeys
				if len(keys) == 0 {
					keys = []string{info.HostKey}
				}
			} else {
				fmt.Fprintf(c.App.ErrWriter, "knot: space %s has no host key yet (%v): ssh will ask about it\n", sp.Name, err)
			}
		}
		for _, key := range keys {
			if key != "" {
				fmt.Fprintf(&hosts, "%s %s\n", host, key)
			}
		}
		fmt.Fprintf(&block, "Host %s\n  HostName %s\n  ProxyCommand %s %%n\n  UserKnownHostsFile %s\n",
			host, host, proxy, sshQuote(known))
		n++
	}
	block.WriteString(sshConfigEnd + "\n")
	if err := os.MkdirAll(filepath.Dir(known), 0o700); err != nil {
		return err
	}
	if err := writeFileAtomic(known, []byte(hosts.String()), 0o600); err != nil {
		return err
	}
	if _, err := writeSSHBlock(cfgFile, block.String()); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "wrote %d space(s) to %s and their host keys to %s\n", n, cfgFile, known)
	if !fromFile {
		fmt.Fprintln(c.App.ErrWriter, "knot: no client configuration file holds your server and token, so ssh's ProxyCommand "+
			"takes them from its environment: keep KNOT_SERVER and KNOT_TOKEN set where you run ssh, or run knot connect once")
	}
	return nil
}

// proxyCommand is the ProxyCommand of the block, without %n: this knot
// binary, with the configuration file it read; fromFile is false when it
// read none, and the command takes the server and token from ssh's
// environment.
func proxyCommand(c *cli.Context) (cmd string, fromFile bool, err error) {
	self, err := os.Executable()
	if err != nil {
		return "", false, fmt.Errorf("cannot find the knot binary: %w", err)
	}
	cmd = sshQuote(self) + " forward ssh"
	cfg, err := loadClientConfig(c)
	if err != nil {
		return "", false, err
	}
	if cfg.File == "" {
		return cmd, false, nil
	}
	abs, err := filepath.Abs(cfg.File)
	if err != nil {
		return "", false, err
	}
	return cmd + " --config " + sshQuote(abs), true, nil
}

// sshQuote quotes s for ssh_config (and the shell that runs ProxyCommand)
// when it holds anything but plain path characters.
func sshQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '+' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// writeSSHBlock replaces the knot block of the ssh config file with block
// ("" removes it), or puts it first when the file has none: ssh takes the
// first value it finds for each option. It reports whether the file
// changed; a file that stays the same is not written (nor created).
func writeSSHBlock(file, block string) (bool, error) {
	data, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	rest, err := spliceSSHBlock(string(data), block)
	if err != nil {
		return false, fmt.Errorf("%s: %w", file, err)
	}
	if rest == string(data) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return false, err
	}
	return true, writeFileAtomic(file, []byte(rest), 0o600)
}

// spliceSSHBlock returns config with its knot block replaced by block.
func spliceSSHBlock(config, block string) (string, error) {
	lines := strings.SplitAfter(config, "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.TrimSpace(l) == sshConfigStart })
	if start < 0 {
		if block == "" {
			return config, nil
		}
		return block + "\n" + config, nil
	}
	n := slices.IndexFunc(lines[start:], func(l string) bool { return strings.TrimSpace(l) == sshConfigEnd })
	if n < 0 {
		return "", fmt.Errorf("line %d starts knot's block (%s) but no line ends it (%s): mend the file by hand", start+1, sshConfigStart, sshConfigEnd)
	}
	end := start + n + 1
	if block == "" && end < len(lines) && strings.TrimSpace(lines[end]) == "" {
		end++ // the blank line update put after the block
	}
	return strings.Join(lines[:start], "") + block + strings.Join(lines[end:], ""), nil
}

// writeFileAtomic writes data to name through a temporary file and a
// rename, with mode perm.
func writeFileAtomic(name string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}
