package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/shared/crypt"
)

func devCommand() *cli.Command {
	return &cli.Command{
		Name:      "dev",
		Usage:     "Run an origin and N leaves on this machine, for development",
		UsageText: "knot dev [--leaves N] [--dir DIR] [--port PORT]",
		Description: "Starts `knot server` as an origin (location origin) and N leaves (locations leaf1, leaf2, ...),\n" +
			"each a child process with its BadgerDB under DIR and all sharing one shared token, which is\n" +
			"made on the first run and kept in DIR/shared-token. Web ports count up from PORT (origin first),\n" +
			"agent ports from PORT+10 (PORT+20, ... when there are more than 9 leaves), so the two never\n" +
			"meet; a port in use is skipped. PORT 0 takes free ports the system picks. Every URL is printed\n" +
			"once its server serves; the servers' logs follow, each line prefixed with its name. Ctrl-C (or\n" +
			"SIGTERM) stops them all, leaves first.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "leaves", Value: 1, Usage: "how many leaves to run (0 to 50)"},
			&cli.StringFlag{Name: "dir", Value: filepath.Join("data", "dev"), Usage: "the folder of the stores and the shared token"},
			&cli.IntFlag{Name: "port", Value: 3000, Usage: "the first web port; 0 for free ports the system picks"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "the servers' log level: debug, info, warn or error"},
		},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			n, port := c.Int("leaves"), c.Int("port")
			if n < 0 || n > 50 {
				return usagef(c, "--leaves %d is not from 0 to 50", n)
			}
			if port < 0 || port > 65000 {
				return usagef(c, "--port %d is not from 0 to 65000", port)
			}
			switch c.String("log-level") {
			case "debug", "info", "warn", "error":
			default:
				return usagef(c, "--log-level %q is not one of debug, info, warn, error", c.String("log-level"))
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("cannot find the knot binary to start: %w", err)
			}
			d := &devFleet{exe: exe, dir: c.String("dir"), level: c.String("log-level"), out: c.App.Writer, logs: c.App.ErrWriter}
			return d.run(c.Context, n, port)
		},
	}
}

// devFleet is an origin and its leaves run by knot dev.
type devFleet struct {
	exe, dir, level string
	out             io.Writer // the URLs
	logs            io.Writer // the servers' logs

	logMu sync.Mutex // serializes lines of logs
}

// devNode is one server of the fleet.
type devNode struct {
	name      string
	web       int
	agent     int
	url       string
	cmd       *exec.Cmd
	done      chan struct{} // closed when the process exited
	err       error         // the exit status, once done
	listening chan string   // the URL the server announced it serves at
}

var devListenRe = regexp.MustCompile(`msg="knot is serving".* listen=(http://\S+)`)

func (d *devFleet) run(ctx context.Context, leaves, port int) error {
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return fmt.Errorf("cannot make %s: %w", d.dir, err)
	}
	token, err := d.sharedToken()
	if err != nil {
		return err
	}
	ports, err := devPorts(port, leaves+1)
	if err != nil {
		return err
	}
	var nodes []*devNode
	defer func() { d.stopAll(nodes) }()
	origin := ""
	for i := 0; i <= leaves; i++ {
		n := &devNode{name: "origin", web: ports[i][0], agent: ports[i][1]}
		if i > 0 {
			n.name = "leaf" + strconv.Itoa(i)
		}
		if err := d.start(n, token, origin); err != nil {
			return err
		}
		nodes = append(nodes, n)
		select {
		case n.url = <-n.listening:
		case <-n.done:
			return fmt.Errorf("the %s server exited before it served (%v); its log above says why", n.name, n.err)
		case <-ctx.Done():
			return nil
		case <-time.After(time.Minute):
			return fmt.Errorf("the %s server did not serve within a minute", n.name)
		}
		if i == 0 {
			origin = n.url
		}
		role := "origin"
		if i > 0 {
			role = "leaf of " + origin
		}
		fmt.Fprintf(d.out, "%-7s %s  agents 127.0.0.1:%d  location %s  data %s  (%s)\n", n.name, n.url, n.agent, n.name,
			filepath.Join(d.dir, n.name), role)
	}
	fmt.Fprintf(d.out, "The shared token is in %s. Ctrl-C stops every server.\n", filepath.Join(d.dir, "shared-token"))

	exited := make(chan *devNode, len(nodes))
	for _, n := range nodes {
		go func() {
			<-n.done
			exited <- n
		}()
	}
	select {
	case <-ctx.Done():
		return nil
	case n := <-exited:
		return fmt.Errorf("the %s server exited (%v); its log above says why, and the others were stopped", n.name, n.err)
	}
}

// sharedToken returns the fleet's shared token, made on the first run.
func (d *devFleet) sharedToken() (string, error) {
	file := filepath.Join(d.dir, "shared-token")
	b, err := os.ReadFile(file)
	if err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("cannot read the shared token: %w", err)
	}
	t := crypt.NewToken()
	if err := os.WriteFile(file, []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("cannot keep the shared token: %w", err)
	}
	return t, nil
}

// start starts the server of n: the origin when origin is "", else a leaf
// of it.
func (d *devFleet) start(n *devNode, token, origin string) error {
	web := "127.0.0.1:" + strconv.Itoa(n.web)
	args := []string{"server",
		"--listen", web,
		"--listen-agent", "127.0.0.1:" + strconv.Itoa(n.agent),
		"--url", "http://" + web,
		"--location", n.name,
		"--badgerdb-enabled",
		"--badgerdb-path", filepath.Join(d.dir, n.name, "badger"),
		"--log-level", d.level,
	}
	if origin != "" {
		args = append(args, "--origin-server", origin)
	}
	cmd := exec.Command(d.exe, args...)
	// The shared token goes by the environment, not the command line that
	// every user can read; other KNOT_ settings of this shell stay out.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KNOT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "KNOT_SHARED_TOKEN="+token)
	devProcAttr(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = nil
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start the %s server: %w", n.name, err)
	}
	n.cmd, n.done, n.listening = cmd, make(chan struct{}), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		announced := false
		for sc.Scan() {
			line := sc.Text()
			if m := devListenRe.FindStringSubmatch(line); m != nil && !announced {
				announced = true
				n.listening <- m[1]
			}
			d.logMu.Lock()
			fmt.Fprintf(d.logs, "%-7s| %s\n", n.name, line)
			d.logMu.Unlock()
		}
		n.err = cmd.Wait()
		close(n.done)
	}()
	return nil
}

// stopAll stops the servers, the last started first: SIGTERM, and SIGKILL
// for one that did not stop within 30 seconds.
func (d *devFleet) stopAll(nodes []*devNode) {
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		select {
		case <-n.done:
			continue
		default:
		}
		n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(30 * time.Second):
			n.cmd.Process.Kill()
			<-n.done
		}
	}
}

// devPorts returns a web and an agent port for each of n servers. From
// base, web ports count up from base and agent ports from base plus a
// multiple of ten above every web port, so they never meet; ports that
// are in use are skipped. With base 0 the system picks free ports.
func devPorts(base, n int) ([][2]int, error) {
	taken := map[int]bool{}
	pick := func(from int) (int, error) {
		if base == 0 {
			for range 100 {
				p, err := freePort(0)
				if err != nil {
					return 0, err
				}
				if !taken[p] {
					taken[p] = true
					return p, nil
				}
			}
			return 0, errors.New("the system gave no free port")
		}
		for p := from; p < 65536; p++ {
			if taken[p] {
				continue
			}
			if _, err := freePort(p); err == nil {
				taken[p] = true
				return p, nil
			}
		}
		return 0, fmt.Errorf("no free port from %d on", from)
	}
	span := max(10, (n+9)/10*10)
	out := make([][2]int, n)
	webNext, agentNext := base, base+span
	for i := range out {
		w, err := pick(webNext)
		if err != nil {
			return nil, err
		}
		a, err := pick(agentNext)
		if err != nil {
			return nil, err
		}
		out[i] = [2]int{w, a}
		webNext, agentNext = w+1, a+1
	}
	return out, nil
}

// freePort checks that port is free on 127.0.0.1 (0: any) and returns it.
func freePort(port int) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return 0, err
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return p, nil
}
