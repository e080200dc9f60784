package docker

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
)

// WatchAgents keeps knot agent running in the space containers of this
// location until ctx ends: the agent that StartAgent execs dies with its
// container's processes when the engine restarts the container (docker
// restart, the unless-stopped restart policy after a crash or a daemon
// restart), so the driver follows the engine's container start events and
// execs the agent again in every container that starts. Each time it
// (re)subscribes it also starts the agent in every running space
// container, for the starts it missed (the leaf was down). An agent
// started where one runs steps aside (package agent), so starting one too
// many costs an exec. Without an injected binary it returns at once.
//
// It was chosen over wrapping the image's entrypoint in the agent (the
// container's init running the template's command): that changes the
// container's PID 1, its signals and its exit code, which templates rely
// on, and needs the image's entrypoint resolved before the container is
// made.
func (d *Driver) WatchAgents(ctx context.Context) error {
	if d.agent == "" {
		return nil
	}
	backoff := time.Second
	for {
		up := d.watchOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if up {
			backoff = time.Second
		}
		t := time.NewTimer(time.Duration(rand.Int64N(int64(backoff))) + backoff/2)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// watchOnce subscribes to start events, starts the agents of the running
// containers, and follows the events until the subscription ends. It
// reports whether it subscribed.
func (d *Driver) watchOnce(ctx context.Context) bool {
	if err := d.ready(ctx); err != nil {
		d.log.Warn("agent watch: the engine does not answer", "err", err)
		return false
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	labels := filters.NewArgs(filters.Arg("label", LabelSpaceID))
	if d.location != "" {
		labels.Add("label", LabelLocation+"="+d.location)
	}
	args := labels.Clone()
	args.Add("type", string(events.ContainerEventType))
	args.Add("event", string(events.ActionStart))
	msgs, errs := d.cli.Events(wctx, events.ListOptions{Filters: args})
	// The events are subscribed to before the list is read, so a start
	// between the two is not missed.
	list, err := d.cli.ContainerList(ctx, container.ListOptions{Filters: labels})
	if err != nil {
		d.log.Warn("agent watch: listing containers", "err", err)
	}
	for _, c := range list {
		if c.State == "running" && d.mine(c.Labels) {
			d.restartAgent(ctx, c.Labels[LabelSpaceID])
		}
	}
	for {
		select {
		case <-ctx.Done():
			return true
		case err := <-errs:
			if ctx.Err() == nil {
				d.log.Warn("agent watch: the engine's events ended; subscribing again", "err", err)
			}
			return true
		case m := <-msgs:
			if m.Type == events.ContainerEventType && m.Action == events.ActionStart && d.mine(m.Actor.Attributes) {
				d.restartAgent(ctx, m.Actor.Attributes[LabelSpaceID])
			}
		}
	}
}

// mine reports whether labels are those of a space container of this
// location.
func (d *Driver) mine(labels map[string]string) bool {
	return labels[LabelSpaceID] != "" && (d.location == "" || labels[LabelLocation] == d.location)
}

func (d *Driver) restartAgent(ctx context.Context, spaceID string) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := d.StartAgent(sctx, spaceID); err != nil && ctx.Err() == nil {
		d.log.Warn("agent watch: could not start the agent", "space_id", spaceID, "err", err)
	}
}
