package docker

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
)

var _ runtime.OutputReader = (*Driver)(nil)

// Output returns the last lines, at most max, of the space container's
// standard output and error, as the engine's log of the container keeps
// them, oldest first. The agent the driver starts writes its own log there
// too (see StartAgent).
func (d *Driver) Output(ctx context.Context, spaceID string, max int) ([]runtime.OutputLine, error) {
	if err := d.ready(ctx); err != nil {
		return nil, err
	}
	list, err := d.containers(ctx, spaceID)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, shared.Errorf(shared.ENOTFOUND, "%s: space %s has no container", d.name, spaceID)
	}
	id := list[0].ID
	ins, err := d.cli.ContainerInspect(ctx, id)
	if err != nil {
		return nil, d.errorf(err, "inspecting container %s", short(id))
	}
	rc, err := d.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true, Tail: strconv.Itoa(max)})
	if err != nil {
		return nil, d.errorf(err, "reading the log of container %s", short(id))
	}
	defer rc.Close()
	var stdout, stderr bytes.Buffer
	if ins.Config != nil && ins.Config.Tty {
		_, err = io.Copy(&stdout, io.LimitReader(rc, 1<<20))
	} else {
		_, err = stdcopy.StdCopy(&stdout, &stderr, io.LimitReader(rc, 1<<20))
	}
	if err != nil && ctx.Err() != nil {
		return nil, d.errorf(ctx.Err(), "reading the log of container %s", short(id))
	}
	lines := append(logLines(&stdout, "stdout"), logLines(&stderr, "stderr")...)
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].At.Before(lines[j].At) })
	if len(lines) > max {
		lines = lines[len(lines)-max:]
	}
	return lines, nil
}

// logLines splits what the engine sent of one stream into lines, each
// led by its RFC 3339 time stamp.
func logLines(r io.Reader, source string) []runtime.OutputLine {
	var out []runtime.OutputLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		l := runtime.OutputLine{Source: source, Text: strings.TrimSuffix(sc.Text(), "\r")}
		if stamp, rest, ok := strings.Cut(l.Text, " "); ok {
			if at, err := time.Parse(time.RFC3339Nano, stamp); err == nil {
				l.At, l.Text = at, rest
			}
		}
		out = append(out, l)
	}
	return out
}
