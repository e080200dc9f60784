package runtimetest

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
)

// Fake is an in-memory runtime.Runtime that behaves like the Docker driver:
// it parses container specs, knows a set of images, keeps volumes (with the
// files written into them) across workloads, and understands the commands
// of Command in Exec and "sh -c 'exit N'" as a container command. Its
// methods that act "outside knot" (Kill, Vanish, Restart) and SetDown
// simulate drift and outages. It passes the same lifecycle suite as the real
// engines. The zero value is not usable; use
// NewFake.
type Fake struct {
	name     string
	location string
	e        *fakeEngine

	mu    sync.Mutex
	down  bool                          // guarded by mu
	calls map[string]int                // guarded by mu
	hooks map[string]func(string) error // guarded by mu
}

// fakeEngine is the state shared by the Fakes of one engine.
type fakeEngine struct {
	mu        sync.Mutex
	images    map[string]bool              // guarded by mu
	workloads map[string]*fakeWorkload     // guarded by mu
	volumes   map[string]map[string]string // volume name → file path → content; guarded by mu
	volSpace  map[string]string            // volume name → space id; guarded by mu
	seq       int                          // guarded by mu
}

type fakeWorkload struct {
	location string
	status   *runtime.Status
	spec     *runtime.ContainerSpec
	env      map[string]string
}

var (
	_ runtime.Runtime = (*Fake)(nil)
	_ runtime.Execer  = (*Fake)(nil)
)

// NewFake returns a fake runtime called name ("docker" by default) for
// location, on a new engine that has the given images.
func NewFake(name, location string, images ...string) *Fake {
	if name == "" {
		name = "docker"
	}
	e := &fakeEngine{
		images: map[string]bool{}, workloads: map[string]*fakeWorkload{},
		volumes: map[string]map[string]string{}, volSpace: map[string]string{},
	}
	for _, img := range images {
		e.images[img] = true
	}
	return newFakeView(name, location, e)
}

func newFakeView(name, location string, e *fakeEngine) *Fake {
	return &Fake{name: name, location: location, e: e, calls: map[string]int{}, hooks: map[string]func(string) error{}}
}

// ForLocation returns a Fake for another location on the same engine, as a
// second leaf on the same host would have. It has its own connection
// (SetDown) and its own call counts.
func (f *Fake) ForLocation(location string) *Fake { return newFakeView(f.name, location, f.e) }

// SetDown makes every call fail with EUNAVAILABLE, as if the engine could
// not be reached, until SetDown(false).
func (f *Fake) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// OnCall sets a hook run at the start of method (e.g. "Start") with the
// space id; an error it returns is the method's result.
func (f *Fake) OnCall(method string, hook func(spaceID string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hooks[method] = hook
}

// Calls returns how often method was called.
func (f *Fake) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// enter counts a call, runs its hook and checks the outage; it returns with
// the engine's lock held unless it returns an error.
func (f *Fake) enter(method, spaceID string) error {
	f.mu.Lock()
	f.calls[method]++
	hook := f.hooks[method]
	down := f.down
	f.mu.Unlock()
	if hook != nil {
		if err := hook(spaceID); err != nil {
			return err
		}
	}
	if down {
		return shared.Errorf(shared.EUNAVAILABLE, "cannot reach %s at fake://%s: connection refused", f.name, f.location)
	}
	f.e.mu.Lock()
	return nil
}

// Name implements runtime.Runtime.
func (f *Fake) Name() string { return f.name }

func fakeVolume(spaceID, name string) string { return "knot-" + spaceID + "-" + name }

func (f *Fake) parse(w *runtime.Workload) (*runtime.ContainerSpec, []string, error) {
	spec, err := runtime.ParseContainerSpec(w.Spec)
	if err != nil {
		return nil, nil, shared.Errorf(shared.EINVALID, "container spec %s", shared.ErrorMessage(err))
	}
	names := spec.VolumeNames()
	if strings.TrimSpace(w.Volumes) != "" {
		more, err := runtime.ParseContainerVolumes(w.Volumes)
		if err != nil {
			return nil, nil, shared.Errorf(shared.EINVALID, "volume definition %s", shared.ErrorMessage(err))
		}
		for _, n := range more {
			if !contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return spec, names, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ensure creates volumes; f.mu is held.
func (f *Fake) ensure(w *runtime.Workload, names []string) error {
	for _, n := range names {
		vn := fakeVolume(w.SpaceID, n)
		if owner, ok := f.e.volSpace[vn]; ok {
			if owner != w.SpaceID {
				return shared.Errorf(shared.ECONFLICT, "%s: volume %s exists and was not made by knot for this space", f.name, vn)
			}
			continue
		}
		f.e.volSpace[vn] = w.SpaceID
		f.e.volumes[vn] = map[string]string{}
		w.Log("created volume %s", vn)
	}
	return nil
}

// EnsureVolumes implements runtime.Runtime.
func (f *Fake) EnsureVolumes(_ context.Context, w *runtime.Workload) error {
	_, names, err := f.parse(w)
	if err != nil {
		return err
	}
	if err := f.enter("EnsureVolumes", w.SpaceID); err != nil {
		return err
	}
	defer f.e.mu.Unlock()
	return f.ensure(w, names)
}

// Start implements runtime.Runtime.
func (f *Fake) Start(ctx context.Context, w *runtime.Workload) (*runtime.Status, error) {
	spec, names, err := f.parse(w)
	if err != nil {
		return nil, err
	}
	if err := f.enter("Start", w.SpaceID); err != nil {
		return nil, err
	}
	defer f.e.mu.Unlock()
	delete(f.e.workloads, w.SpaceID)
	if err := f.ensure(w, names); err != nil {
		return nil, err
	}
	if !f.e.images[spec.Image] {
		w.Log("pulling image %s", spec.Image)
		// As the Docker driver says it: MissingImage's registry does not
		// answer; another image is one its registry does not have.
		if reg, _, ok := strings.Cut(spec.Image, "/"); ok && reg == "127.0.0.1:1" {
			return nil, shared.Errorf(shared.EUNAVAILABLE, "cannot reach the registry of image %q at %s: Get \"http://%s/v2/\": dial tcp %s: connect: connection refused", spec.Image, reg, reg, reg)
		}
		return nil, shared.Errorf(shared.ENOTFOUND, "image %q not found: the registry at docker.io does not have it: pull access denied for %s, repository does not exist", spec.Image, spec.Image)
	}
	if c := spec.Command; len(c) == 3 && c[0] == "sh" && c[1] == "-c" && strings.HasPrefix(c[2], "exit ") {
		code, _ := strconv.Atoi(strings.TrimPrefix(c[2], "exit "))
		return nil, shared.Errorf(shared.EINVALID, "%s: the container exited with code %d right after it started", f.name, code)
	}
	env := map[string]string{}
	for _, e := range spec.Environment {
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
	}
	for k, v := range w.Env {
		env[k] = v
	}
	f.e.seq++
	st := &runtime.Status{
		SpaceID: w.SpaceID, State: runtime.StateRunning, ID: fmt.Sprintf("fake%06d", f.e.seq),
		Hash: w.Hash, StartedAt: time.Now().UTC(),
	}
	f.e.workloads[w.SpaceID] = &fakeWorkload{location: f.location, status: st, spec: spec, env: env}
	w.Log("started container %s", st.ID)
	cp := *st
	return &cp, nil
}

// Stop implements runtime.Runtime: the workload exits with code 0.
func (f *Fake) Stop(_ context.Context, spaceID string, _ time.Duration) error {
	if err := f.enter("Stop", spaceID); err != nil {
		return err
	}
	defer f.e.mu.Unlock()
	if wl := f.e.workloads[spaceID]; wl != nil && wl.status.State == runtime.StateRunning {
		wl.status.State, wl.status.ExitCode, wl.status.Reason = runtime.StateExited, 0, "container exited with code 0"
	}
	return nil
}

// Remove implements runtime.Runtime.
func (f *Fake) Remove(_ context.Context, spaceID string) error {
	if err := f.enter("Remove", spaceID); err != nil {
		return err
	}
	defer f.e.mu.Unlock()
	delete(f.e.workloads, spaceID)
	return nil
}

// Inspect implements runtime.Runtime.
func (f *Fake) Inspect(_ context.Context, spaceID string) (*runtime.Status, error) {
	if err := f.enter("Inspect", spaceID); err != nil {
		return nil, err
	}
	defer f.e.mu.Unlock()
	wl := f.e.workloads[spaceID]
	if wl == nil {
		return &runtime.Status{SpaceID: spaceID, State: runtime.StateMissing, Reason: "no container"}, nil
	}
	cp := *wl.status
	return &cp, nil
}

// List implements runtime.Runtime.
func (f *Fake) List(context.Context) ([]*runtime.Status, error) {
	if err := f.enter("List", ""); err != nil {
		return nil, err
	}
	defer f.e.mu.Unlock()
	out := make([]*runtime.Status, 0, len(f.e.workloads))
	for _, wl := range f.e.workloads {
		if f.location != "" && wl.location != f.location {
			continue
		}
		cp := *wl.status
		out = append(out, &cp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SpaceID < out[j].SpaceID })
	return out, nil
}

// RemoveVolumes implements runtime.Runtime.
func (f *Fake) RemoveVolumes(_ context.Context, spaceID string) error {
	if err := f.enter("RemoveVolumes", spaceID); err != nil {
		return err
	}
	defer f.e.mu.Unlock()
	for vn, owner := range f.e.volSpace {
		if owner == spaceID {
			delete(f.e.volSpace, vn)
			delete(f.e.volumes, vn)
		}
	}
	return nil
}

// Exec implements runtime.Execer for the commands of Command, as busybox
// runs them.
func (f *Fake) Exec(_ context.Context, spaceID string, cmd []string) (string, int, error) {
	if err := f.enter("Exec", spaceID); err != nil {
		return "", 0, err
	}
	defer f.e.mu.Unlock()
	wl := f.e.workloads[spaceID]
	if wl == nil || wl.status.State != runtime.StateRunning {
		return "", 0, shared.Errorf(shared.ENOTFOUND, "%s: space %s has no running container", f.name, spaceID)
	}
	switch {
	case len(cmd) == 6 && cmd[0] == "sh" && cmd[2] == writeScript:
		files, rel, ok := f.file(spaceID, wl, cmd[4])
		if !ok {
			return "", 0, nil // written to the container's own layer: lost with it
		}
		files[rel] = cmd[5]
		return "", 0, nil
	case len(cmd) == 2 && cmd[0] == "cat":
		files, rel, ok := f.file(spaceID, wl, cmd[1])
		v, found := files[rel]
		if !ok || !found {
			return "cat: can't open '" + cmd[1] + "': No such file or directory\n", 1, nil
		}
		return v, 0, nil
	case len(cmd) == 5 && cmd[0] == "sh" && cmd[2] == envScript:
		v, ok := wl.env[cmd[4]]
		if !ok {
			return "", 1, nil
		}
		return v + "\n", 0, nil
	}
	return fmt.Sprintf("fake: cannot run %q\n", cmd), 127, nil
}

// file finds the volume that holds p in the workload.
func (f *Fake) file(spaceID string, wl *fakeWorkload, p string) (map[string]string, string, bool) {
	for _, m := range wl.spec.Volumes {
		if m.Bind || !strings.HasPrefix(p, m.Target+"/") {
			continue
		}
		files := f.e.volumes[fakeVolume(spaceID, m.Source)]
		return files, strings.TrimPrefix(p, m.Target+"/"), files != nil
	}
	return nil, "", false
}

// Kill makes the space's workload exit with code, as if it crashed or was
// stopped outside knot.
func (f *Fake) Kill(spaceID string, code int) {
	f.e.mu.Lock()
	defer f.e.mu.Unlock()
	if wl := f.e.workloads[spaceID]; wl != nil {
		wl.status.State, wl.status.ExitCode = runtime.StateExited, code
		wl.status.Reason = fmt.Sprintf("container exited with code %d", code)
	}
}

// Vanish removes the space's workload outside knot.
func (f *Fake) Vanish(spaceID string) {
	f.e.mu.Lock()
	defer f.e.mu.Unlock()
	delete(f.e.workloads, spaceID)
}

// Restart restarts the space's workload outside knot: it runs again with a
// new start time.
func (f *Fake) Restart(spaceID string) {
	f.e.mu.Lock()
	defer f.e.mu.Unlock()
	if wl := f.e.workloads[spaceID]; wl != nil {
		wl.status.State, wl.status.ExitCode, wl.status.Reason = runtime.StateRunning, 0, ""
		t := time.Now().UTC()
		if t.Sub(wl.status.StartedAt) < 10*time.Millisecond {
			t = wl.status.StartedAt.Add(10 * time.Millisecond) // a real restart takes longer than this
		}
		wl.status.StartedAt = t
	}
}

// Volumes returns the names of the space's volumes.
func (f *Fake) Volumes(spaceID string) []string {
	f.e.mu.Lock()
	defer f.e.mu.Unlock()
	var out []string
	for vn, owner := range f.e.volSpace {
		if owner == spaceID {
			out = append(out, vn)
		}
	}
	sort.Strings(out)
	return out
}
