package bench

import (
	"context"
	"fmt"
	"os/exec"
	"time"

	"github.com/knot-dev/knot/leaf/leafsim"
)

func (b *bench) fanout(ctx context.Context) error {
	o := b.opts
	id, err := b.createTemplate(ctx, b.templateName(0))
	if err != nil {
		return err
	}
	before, merr := b.memory(ctx)
	if err := b.startSim(ctx, o.Leaves, o.Prefix); err != nil {
		return err
	}
	idle, merr2 := b.idleMemory(ctx)
	lat := make([]time.Duration, 0, o.Updates)
	writes := make([]time.Duration, 0, o.Updates)
	fmt.Fprintf(b.out, "updating the %d-byte spec of template %s %d times, one after another\n", o.SpecSize, b.templateName(0), o.Updates)
	for i := range o.Updates {
		mark := fmt.Sprintf("%s-%s-u%d", o.Prefix, b.nonce, i+1)
		start := time.Now()
		if err := b.updateSpec(ctx, id, mark); err != nil {
			return err
		}
		writes = append(writes, time.Since(start))
		rev, err := b.revisionOf(ctx, id, mark)
		if err != nil {
			return err
		}
		at, err := b.sim.WaitApplied(ctx, rev)
		if err != nil {
			return err
		}
		lat = append(lat, at.Sub(start))
		fmt.Fprintf(b.out, "  update %d: revision %d applied by all %d leaves %s after the write call\n", i+1, rev, o.Leaves, round(at.Sub(start)))
	}
	s := leafsim.Summarize(lat)
	w := leafsim.Summarize(writes)
	fmt.Fprintf(b.out, "fan-out, write call until every leaf applied it: p50 %s, p99 %s, max %s (min %s, mean %s, %d updates)\n",
		round(s.P50), round(s.P99), round(s.Max), round(s.Min), round(s.Mean), s.N)
	fmt.Fprintf(b.out, "the write calls themselves (PUT /api/templates/{id} until its answer): p50 %s, p99 %s, max %s\n", round(w.P50), round(w.P99), round(w.Max))
	b.reportMemory(before, merr, idle, merr2)
	return nil
}

func (b *bench) restart(ctx context.Context) error {
	o := b.opts
	if err := b.startSim(ctx, o.Leaves, o.Prefix); err != nil {
		return err
	}
	mark := b.sim.Mark()
	snapshots := b.sim.Stats().Snapshots
	if o.RestartCommand != "" {
		fmt.Fprintf(b.out, "restarting the origin: %s\n", o.RestartCommand)
		cmd := exec.CommandContext(ctx, "sh", "-c", o.RestartCommand)
		cmd.Stdout, cmd.Stderr = b.out, b.out
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("--restart-command: %w", err)
		}
		defer cmd.Wait()
	} else {
		fmt.Fprintf(b.out, "restart the origin now; waiting up to %s\n", round(time.Until(deadline(ctx))))
	}
	// Wait for the leaves to lose the origin, then to be back.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var down, back time.Time
	for down.IsZero() || back.IsZero() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the origin to restart: %s: %w", b.sim.Stats(), ctx.Err())
		case <-tick.C:
		}
		st := b.sim.Stats()
		if down.IsZero() && st.Connected < o.Leaves {
			down = time.Now()
		}
		if !down.IsZero() && back.IsZero() && st.Sessions > sum(mark) {
			back = time.Now()
		}
	}
	if err := b.sim.WaitReconnected(ctx, mark); err != nil {
		return err
	}
	all := time.Now()
	st := b.sim.Stats()
	fmt.Fprintf(b.out, "all %d leaves connected and current again %s after the first one lost the origin, %s after the origin welcomed the first one back (%d new snapshots)\n",
		o.Leaves, round(all.Sub(down)), round(all.Sub(back)), st.Snapshots-snapshots)
	return nil
}

func sum(m leafsim.Mark) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func (b *bench) catchup(ctx context.Context) error {
	o := b.opts
	ids, err := b.seedTemplates(ctx, "catchup", o.Changes)
	if err != nil {
		return err
	}
	if err := b.startSim(ctx, o.Leaves, o.Prefix); err != nil {
		return err
	}
	away := o.Leaves - 1
	b.sim.Pause(away)
	before := b.sim.Leaf(away)
	fmt.Fprintf(b.out, "leaf %s is away; updating each of the %d templates once\n", b.sim.Name(away), o.Changes)
	err = b.parallel(ctx, o.Changes-1, func(ctx context.Context, i int) error {
		return b.updateSpec(ctx, ids[i], fmt.Sprintf("%s-%s-c%d", o.Prefix, b.nonce, i))
	})
	if err != nil {
		return err
	}
	// The last change, made after all the others, tells the revision to
	// reach.
	last := ids[o.Changes-1]
	mark := fmt.Sprintf("%s-%s-c%d", o.Prefix, b.nonce, o.Changes-1)
	if err := b.updateSpec(ctx, last, mark); err != nil {
		return err
	}
	rev, err := b.revisionOf(ctx, last, mark)
	if err != nil {
		return err
	}
	if _, err := b.sim.WaitApplied(ctx, rev); err != nil {
		return err
	}
	start := time.Now()
	b.sim.Resume(away)
	if _, err := b.sim.WaitApplied(ctx, rev); err != nil {
		return err
	}
	at, ok := b.sim.AppliedAt(away, rev)
	if !ok {
		return fmt.Errorf("leaf %s does not remember when it applied revision %d", b.sim.Name(away), rev)
	}
	after := b.sim.Leaf(away)
	got, frames := after.ChangeBytes-before.ChangeBytes, after.ChangeFrames-before.ChangeFrames
	how := "resumed"
	if after.Snapshots != before.Snapshots {
		how = "took a new snapshot"
	}
	fmt.Fprintf(b.out, "leaf %s, back after missing %d changes, was current at revision %d %s after it was let back (it %s)\n",
		b.sim.Name(away), o.Changes, rev, round(at.Sub(start)), how)
	fmt.Fprintf(b.out, "it received %s in %d change frame(s) (%s per change); its first snapshot, the whole data set then, was %s in %d records\n",
		size(got), frames, size(got/int64(o.Changes)), size(before.SnapshotBytes), before.SnapshotRecords)
	return nil
}

func (b *bench) join(ctx context.Context) error {
	o := b.opts
	if err := b.seed(ctx); err != nil {
		return err
	}
	prefix := fmt.Sprintf("%s-j%s", o.Prefix, b.nonce)
	start := time.Now()
	if err := b.startSim(ctx, o.Leaves, prefix); err != nil {
		return err
	}
	var last time.Time
	for i := range o.Leaves {
		st := b.sim.Leaf(i)
		at, ok := b.sim.AppliedAt(i, st.Applied)
		if !ok {
			at = time.Now()
		}
		if at.After(last) {
			last = at
		}
	}
	st := b.sim.Leaf(0)
	fmt.Fprintf(b.out, "%d new leaves were current %s after they started; a snapshot was %s in %d records, at revision %d\n",
		o.Leaves, round(last.Sub(start)), size(st.SnapshotBytes), st.SnapshotRecords, st.Applied)
	return nil
}
