// Package docker runs spaces as containers through the Docker Engine API. It
// serves Docker and Podman (whose service speaks the same API) with one code
// path: only the socket and the name in messages differ.
//
// Every container and volume carries labels with the space id and the
// location, and names made from the space id (knot-<space id>,
// knot-<space id>-<volume>), so spaces of different users, and leaves of
// different locations sharing one engine, never collide, and a restarted leaf
// finds all its containers again.
package docker

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/api/types/volume"
	dockerclient "github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
)

// Labels set on every container and volume knot makes.
const (
	LabelSpaceID  = "knot.space_id"      // the space's id
	LabelLocation = "knot.location"      // the location of the leaf that made it
	LabelHash     = "knot.template_hash" // containers: the template hash of the spec
	LabelSpace    = "knot.space"         // containers: the space's name, for people reading `docker ps`
	LabelUser     = "knot.user"          // containers: the owner's username, likewise
	LabelVolume   = "knot.volume"        // volumes: the name in the template
)

// AgentPath is where the leaf's own knot binary appears in a container when
// Options.AgentBinary is set.
const AgentPath = "/.knot/knot"

// Options configure a Driver.
type Options struct {
	// Host is the engine's API address, e.g. "unix:///var/run/docker.sock"
	// (server.docker.host) or "unix:///run/podman/podman.sock"
	// (server.podman.host). Empty means DOCKER_HOST and the default Docker
	// socket for Docker, and the default Podman socket for Podman.
	Host string
	// Name is "docker" or "podman"; empty means "docker". It names the
	// engine in messages and picks the default socket.
	Name string
	// Location labels what the driver makes; List reports only workloads of
	// this location. Empty labels nothing and lists every knot container.
	Location string
	// AgentBinary is the host path of a static knot binary to mount
	// read-only at /.knot/knot in every container, so that any image can
	// run the agent. Empty mounts nothing.
	AgentBinary string
	// Logger receives the driver's log; nil means slog.Default().
	Logger *slog.Logger
}

// Driver is a runtime.Runtime on a Docker or Podman engine. It is safe for
// concurrent use.
type Driver struct {
	cli      *dockerclient.Client
	name     string
	host     string
	location string
	agent    string
	log      *slog.Logger

	// The client negotiates its API version on its first request, in a way
	// that races with concurrent requests; every method waits for ready.
	negMu      sync.Mutex
	negotiated atomic.Bool
}

var (
	_ runtime.Runtime = (*Driver)(nil)
	_ runtime.Execer  = (*Driver)(nil)
)

// New returns a driver for the engine at opts.Host. It does not contact the
// engine; see Ping.
func New(opts Options) (*Driver, error) {
	name := opts.Name
	if name == "" {
		name = "docker"
	}
	if name != "docker" && name != "podman" {
		return nil, fmt.Errorf("docker: engine name %q is not docker or podman", name)
	}
	copts := []dockerclient.Opt{dockerclient.WithAPIVersionNegotiation()}
	host := opts.Host
	switch {
	case host != "":
		copts = append(copts, dockerclient.WithHost(host))
	case name == "podman":
		host = defaultPodmanHost()
		copts = append(copts, dockerclient.WithHost(host))
	default:
		copts = append(copts, dockerclient.FromEnv)
	}
	cli, err := dockerclient.NewClientWithOpts(copts...)
	if err != nil {
		return nil, fmt.Errorf("%s: bad engine address %q: %w", name, host, err)
	}
	if host == "" {
		host = cli.DaemonHost()
	}
	if opts.AgentBinary != "" {
		if fi, err := os.Stat(opts.AgentBinary); err != nil || !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: agent binary %q is not a file: %v", name, opts.AgentBinary, err)
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Driver{cli: cli, name: name, host: host, location: opts.Location, agent: opts.AgentBinary, log: log.With("runtime", name)}, nil
}

func defaultPodmanHost() string {
	if os.Geteuid() == 0 {
		return "unix:///run/podman/podman.sock"
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return "unix://" + dir + "/podman/podman.sock"
	}
	return fmt.Sprintf("unix:///run/user/%d/podman/podman.sock", os.Geteuid())
}

// Name returns "docker" or "podman".
func (d *Driver) Name() string { return d.name }

// Host returns the engine address the driver talks to.
func (d *Driver) Host() string { return d.host }

// Close releases the driver's connections.
func (d *Driver) Close() error { return d.cli.Close() }

// Ping checks that the engine answers; EUNAVAILABLE if it does not.
func (d *Driver) Ping(ctx context.Context) error {
	if _, err := d.cli.Ping(ctx); err != nil {
		return d.errorf(err, "ping")
	}
	return d.ready(ctx)
}

// ready settles the API version with the engine once, before any versioned
// request.
func (d *Driver) ready(ctx context.Context) error {
	if d.negotiated.Load() {
		return nil
	}
	d.negMu.Lock()
	defer d.negMu.Unlock()
	if d.negotiated.Load() {
		return nil
	}
	ping, err := d.cli.Ping(ctx)
	if err != nil {
		return d.errorf(err, "ping")
	}
	d.cli.NegotiateAPIVersionPing(ping)
	d.negotiated.Store(true)
	return nil
}

// ContainerName returns the name of the container of a space whose spec
// sets no container_name.
func ContainerName(spaceID string) string { return "knot-" + spaceID }

// VolumeName returns the engine's name for the volume called name in the
// template of a space.
func VolumeName(spaceID, name string) string { return "knot-" + spaceID + "-" + name }

// --- volumes ---

// EnsureVolumes creates the space's volumes (the named sources in the spec's
// volumes and the names in the volume definition) that do not exist yet.
func (d *Driver) EnsureVolumes(ctx context.Context, w *runtime.Workload) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	spec, err := parseSpec(w.Spec)
	if err != nil {
		return err
	}
	names, err := volumeNames(spec, w.Volumes)
	if err != nil {
		return err
	}
	return d.ensureVolumes(ctx, w, names)
}

func volumeNames(spec *runtime.ContainerSpec, definition string) ([]string, error) {
	names := spec.VolumeNames()
	if strings.TrimSpace(definition) != "" {
		more, err := runtime.ParseContainerVolumes(definition)
		if err != nil {
			return nil, shared.Errorf(shared.EINVALID, "volume definition %s", shared.ErrorMessage(err))
		}
		for _, n := range more {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names, nil
}

func (d *Driver) ensureVolumes(ctx context.Context, w *runtime.Workload, names []string) error {
	for _, n := range names {
		vn := VolumeName(w.SpaceID, n)
		v, err := d.cli.VolumeInspect(ctx, vn)
		if err == nil {
			if v.Labels[LabelSpaceID] != w.SpaceID {
				return shared.Errorf(shared.ECONFLICT, "%s: volume %s exists and was not made by knot for this space", d.name, vn)
			}
			continue
		}
		if !cerrdefs.IsNotFound(err) {
			return d.errorf(err, "inspecting volume %s", vn)
		}
		labels := map[string]string{LabelSpaceID: w.SpaceID, LabelVolume: n}
		if d.location != "" {
			labels[LabelLocation] = d.location
		}
		if _, err := d.cli.VolumeCreate(ctx, volume.CreateOptions{Name: vn, Labels: labels}); err != nil {
			return d.errorf(err, "creating volume %s", vn)
		}
		w.Log("created volume %s", vn)
	}
	return nil
}

// RemoveVolumes removes every volume labelled with the space's id.
func (d *Driver) RemoveVolumes(ctx context.Context, spaceID string) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	res, err := d.cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelSpaceID+"="+spaceID))})
	if err != nil {
		return d.errorf(err, "listing volumes")
	}
	for _, v := range res.Volumes {
		if v.Labels[LabelSpaceID] != spaceID {
			continue
		}
		if err := d.cli.VolumeRemove(ctx, v.Name, true); err != nil && !cerrdefs.IsNotFound(err) {
			return d.errorf(err, "removing volume %s", v.Name)
		}
		d.log.Info("removed volume", "space", spaceID, "volume", v.Name)
	}
	return nil
}

// --- containers ---

func parseSpec(src string) (*runtime.ContainerSpec, error) {
	spec, err := runtime.ParseContainerSpec(src)
	if err != nil {
		return nil, shared.Errorf(shared.EINVALID, "container spec %s", shared.ErrorMessage(err))
	}
	return spec, nil
}

// Start removes any container of the space, makes sure the volumes and the
// image are there (pulling it if needed), then creates and starts the
// container. A container that exits at once is removed and reported as an
// error with its exit code.
func (d *Driver) Start(ctx context.Context, w *runtime.Workload) (*runtime.Status, error) {
	if err := d.ready(ctx); err != nil {
		return nil, err
	}
	spec, err := parseSpec(w.Spec)
	if err != nil {
		return nil, err
	}
	names, err := volumeNames(spec, w.Volumes)
	if err != nil {
		return nil, err
	}
	if err := d.Remove(ctx, w.SpaceID); err != nil {
		return nil, err
	}
	if err := d.ensureVolumes(ctx, w, names); err != nil {
		return nil, err
	}
	if err := d.ensureImage(ctx, spec, w); err != nil {
		return nil, err
	}
	cfg, hc, name := d.containerConfig(spec, w)
	created, err := d.cli.ContainerCreate(ctx, cfg, hc, nil, nil, name)
	if err != nil {
		if cerrdefs.IsConflict(err) || cerrdefs.IsAlreadyExists(err) {
			return nil, shared.Wrap(shared.ECONFLICT, err, "%s: the container name %s is taken by a container knot did not make for this space", d.name, name)
		}
		return nil, d.errorf(err, "creating container %s", name)
	}
	d.log.Info("created container", "space", w.SpaceID, "container", name, "id", short(created.ID))
	for _, warn := range created.Warnings {
		w.Log("%s: %s", d.name, warn)
	}
	if err := d.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		d.removeQuietly(created.ID)
		return nil, d.errorf(err, "starting container %s", name)
	}
	ins, err := d.cli.ContainerInspect(ctx, created.ID)
	if err != nil {
		d.removeQuietly(created.ID)
		return nil, d.errorf(err, "inspecting container %s", name)
	}
	st := d.status(w.SpaceID, ins)
	if st.State != runtime.StateRunning {
		d.removeQuietly(created.ID)
		return nil, shared.Errorf(shared.EINVALID, "%s: the %s right after it started", d.name, st.Reason)
	}
	w.Log("started container %s", name)
	return st, nil
}

// removeQuietly removes a container that failed to start, on a context of
// its own since the caller's may be what failed.
func (d *Driver) removeQuietly(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
		d.log.Warn("removing a container that failed to start", "id", short(id), "err", err)
	}
}

func (d *Driver) containerConfig(spec *runtime.ContainerSpec, w *runtime.Workload) (*container.Config, *container.HostConfig, string) {
	name := spec.ContainerName
	if name == "" {
		name = ContainerName(w.SpaceID)
	}
	labels := map[string]string{LabelSpaceID: w.SpaceID, LabelHash: w.Hash, LabelSpace: w.SpaceName, LabelUser: w.UserName}
	if d.location != "" {
		labels[LabelLocation] = d.location
	}
	env := make([]string, 0, len(spec.Environment)+len(w.Env))
	for _, e := range spec.Environment {
		k, _, _ := strings.Cut(e, "=")
		if _, ours := w.Env[k]; !ours {
			env = append(env, e)
		}
	}
	keys := make([]string, 0, len(w.Env))
	for k := range w.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+w.Env[k])
	}
	cfg := &container.Config{
		Image:        spec.Image,
		Env:          env,
		Cmd:          spec.Command,
		Hostname:     spec.Hostname,
		Labels:       labels,
		ExposedPorts: nat.PortSet{},
	}
	if cfg.Hostname == "" && spec.Network != "host" && !strings.HasPrefix(spec.Network, "container:") && validHostname(w.SpaceName) {
		cfg.Hostname = w.SpaceName
	}
	hc := &container.HostConfig{
		NetworkMode:   container.NetworkMode(spec.Network),
		Privileged:    spec.Privileged,
		CapAdd:        spec.CapAdd,
		CapDrop:       spec.CapDrop,
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		PortBindings:  nat.PortMap{},
	}
	hc.Resources.NanoCPUs = int64(spec.CPUs * 1e9)
	hc.Resources.Memory = spec.Memory
	for _, dev := range spec.Devices {
		hc.Resources.Devices = append(hc.Resources.Devices, container.DeviceMapping{PathOnHost: dev.HostPath, PathInContainer: dev.ContainerPath, CgroupPermissions: dev.Permissions})
	}
	for _, p := range spec.Ports {
		port := nat.Port(fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol))
		cfg.ExposedPorts[port] = struct{}{}
		hc.PortBindings[port] = append(hc.PortBindings[port], nat.PortBinding{HostIP: p.HostIP, HostPort: strconv.Itoa(int(p.HostPort))})
	}
	for _, m := range spec.Volumes {
		if m.Bind {
			hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
			continue
		}
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Source: VolumeName(w.SpaceID, m.Source), Target: m.Target, ReadOnly: m.ReadOnly})
	}
	if d.agent != "" {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: d.agent, Target: AgentPath, ReadOnly: true})
		cfg.Env = withAgentSyslog(cfg.Env)
	}
	return cfg, hc, name
}

var hostnameRe = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

func validHostname(s string) bool { return hostnameRe.MatchString(s) }

// pullMessage is one line of the engine's pull progress stream.
type pullMessage struct {
	Status      string `json:"status"`
	ID          string `json:"id"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// ensureImage pulls the spec's image unless the engine has it.
func (d *Driver) ensureImage(ctx context.Context, spec *runtime.ContainerSpec, w *runtime.Workload) error {
	ref := spec.Image
	if _, err := d.cli.ImageInspect(ctx, ref); err == nil {
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return d.errorf(err, "inspecting image %s", ref)
	}
	w.Log("pulling image %s", ref)
	opts := image.PullOptions{}
	if spec.Auth != nil {
		b, _ := json.Marshal(registry.AuthConfig{Username: spec.Auth.Username, Password: spec.Auth.Password})
		opts.RegistryAuth = base64.URLEncoding.EncodeToString(b)
	}
	rc, err := d.cli.ImagePull(ctx, ref, opts)
	if err != nil {
		if unavailable(err) {
			return d.errorf(err, "pulling image %s", ref)
		}
		return pullError(ref, err, engineMessage(err))
	}
	defer rc.Close()
	dec := json.NewDecoder(rc)
	last := map[string]string{}
	for {
		var msg pullMessage
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return d.errorf(err, "pulling image %s", ref)
		}
		if msg.Error != "" || msg.ErrorDetail != nil {
			why := msg.Error
			if why == "" {
				why = msg.ErrorDetail.Message
			}
			return pullError(ref, errors.New(why), why)
		}
		// Report each layer's steps, not its progress bar.
		if msg.Status != "" && last[msg.ID] != msg.Status && !strings.HasPrefix(msg.Status, "Downloading") && !strings.HasPrefix(msg.Status, "Extracting") {
			last[msg.ID] = msg.Status
			if msg.ID != "" {
				w.Log("pull %s: %s: %s", ref, msg.ID, msg.Status)
			} else {
				w.Log("pull %s: %s", ref, msg.Status)
			}
		}
	}
	if _, err := d.cli.ImageInspect(ctx, ref); err != nil {
		if cerrdefs.IsNotFound(err) {
			return shared.Wrap(shared.ENOTFOUND, err, "image %q not found: the pull finished without it", ref)
		}
		return d.errorf(err, "inspecting image %s", ref)
	}
	return nil
}

// containers returns the ids of the space's containers, running ones first.
func (d *Driver) containers(ctx context.Context, spaceID string) ([]container.Summary, error) {
	list, err := d.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", LabelSpaceID+"="+spaceID))})
	if err != nil {
		return nil, d.errorf(err, "listing containers")
	}
	out := list[:0]
	for _, c := range list {
		if c.Labels[LabelSpaceID] == spaceID {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].State == "running" && out[j].State != "running" })
	return out, nil
}

// Stop stops the space's running containers with grace.
func (d *Driver) Stop(ctx context.Context, spaceID string, grace time.Duration) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	list, err := d.containers(ctx, spaceID)
	if err != nil {
		return err
	}
	secs := int(grace.Round(time.Second) / time.Second)
	for _, c := range list {
		if c.State != "running" && c.State != "restarting" && c.State != "paused" {
			continue
		}
		if err := d.cli.ContainerStop(ctx, c.ID, container.StopOptions{Timeout: &secs}); err != nil && !cerrdefs.IsNotFound(err) {
			return d.errorf(err, "stopping container %s", containerLabel(c))
		}
		d.log.Info("stopped container", "space", spaceID, "id", short(c.ID))
	}
	return nil
}

// Remove force-removes the space's containers; volumes stay.
func (d *Driver) Remove(ctx context.Context, spaceID string) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	list, err := d.containers(ctx, spaceID)
	if err != nil {
		return err
	}
	for _, c := range list {
		err := d.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) && !strings.Contains(err.Error(), "already in progress") {
			return d.errorf(err, "removing container %s", containerLabel(c))
		}
		d.log.Info("removed container", "space", spaceID, "id", short(c.ID))
	}
	return nil
}

// Inspect reports the space's container.
func (d *Driver) Inspect(ctx context.Context, spaceID string) (*runtime.Status, error) {
	if err := d.ready(ctx); err != nil {
		return nil, err
	}
	list, err := d.containers(ctx, spaceID)
	if err != nil {
		return nil, err
	}
	for _, c := range list {
		ins, err := d.cli.ContainerInspect(ctx, c.ID)
		if cerrdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, d.errorf(err, "inspecting container %s", containerLabel(c))
		}
		return d.status(spaceID, ins), nil
	}
	return &runtime.Status{SpaceID: spaceID, State: runtime.StateMissing, Reason: "no container"}, nil
}

// List reports every knot container of this location.
func (d *Driver) List(ctx context.Context) ([]*runtime.Status, error) {
	if err := d.ready(ctx); err != nil {
		return nil, err
	}
	args := filters.NewArgs(filters.Arg("label", LabelSpaceID))
	if d.location != "" {
		args.Add("label", LabelLocation+"="+d.location)
	}
	list, err := d.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	if err != nil {
		return nil, d.errorf(err, "listing containers")
	}
	seen := map[string]*runtime.Status{}
	var out []*runtime.Status
	for _, c := range list {
		id := c.Labels[LabelSpaceID]
		if id == "" || d.location != "" && c.Labels[LabelLocation] != d.location {
			continue
		}
		ins, err := d.cli.ContainerInspect(ctx, c.ID)
		if cerrdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, d.errorf(err, "inspecting container %s", containerLabel(c))
		}
		st := d.status(id, ins)
		if prev := seen[id]; prev != nil {
			if prev.State == runtime.StateRunning || st.State != runtime.StateRunning {
				continue
			}
			*prev = *st
			continue
		}
		seen[id] = st
		out = append(out, st)
	}
	return out, nil
}

func (d *Driver) status(spaceID string, ins container.InspectResponse) *runtime.Status {
	st := &runtime.Status{SpaceID: spaceID, ID: ins.ID, State: runtime.StateExited}
	if ins.Config != nil {
		st.Hash = ins.Config.Labels[LabelHash]
	}
	s := ins.State
	if s == nil {
		st.Reason = "container has no state"
		return st
	}
	if t, err := time.Parse(time.RFC3339Nano, s.StartedAt); err == nil && t.Year() > 1 {
		st.StartedAt = t
	}
	switch {
	case s.Running && s.Paused:
		st.State, st.Reason = runtime.StateRunning, "container is paused"
	case s.Running && !s.Restarting:
		st.State = runtime.StateRunning
	default:
		// Restarting after an exit counts as exited: a container that
		// keeps failing spends ever longer restarting.
		st.ExitCode = s.ExitCode
		st.Reason = fmt.Sprintf("container exited with code %d", s.ExitCode)
		if s.OOMKilled {
			st.Reason += " (out of memory)"
		}
		if s.Error != "" {
			st.Reason += ": " + s.Error
		}
		if s.Restarting {
			st.Reason += " and is restarting"
		}
		if s.Status == "created" {
			st.Reason = "container was created but never started"
		}
	}
	return st
}

// Exec runs cmd in the space's running container and returns its combined
// output and exit code.
func (d *Driver) Exec(ctx context.Context, spaceID string, cmd []string) (string, int, error) {
	if err := d.ready(ctx); err != nil {
		return "", 0, err
	}
	list, err := d.containers(ctx, spaceID)
	if err != nil {
		return "", 0, err
	}
	if len(list) == 0 || list[0].State != "running" {
		return "", 0, shared.Errorf(shared.ENOTFOUND, "%s: space %s has no running container", d.name, spaceID)
	}
	id := list[0].ID
	ex, err := d.cli.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return "", 0, d.errorf(err, "exec in container %s", short(id))
	}
	att, err := d.cli.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return "", 0, d.errorf(err, "exec in container %s", short(id))
	}
	defer att.Close()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(&out, &out, att.Reader)
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		att.Close()
		<-done
		return "", 0, d.errorf(ctx.Err(), "exec in container %s", short(id))
	}
	if err != nil {
		return "", 0, d.errorf(err, "reading exec output")
	}
	// The exit code is set shortly after the output ends.
	for {
		ins, err := d.cli.ContainerExecInspect(ctx, ex.ID)
		if err != nil {
			return "", 0, d.errorf(err, "exec in container %s", short(id))
		}
		if !ins.Running {
			return out.String(), ins.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return "", 0, d.errorf(ctx.Err(), "exec in container %s", short(id))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// --- errors ---

// errorf turns an engine error into a *shared.Error whose message names the
// engine, what was being done and the engine's reason.
func (d *Driver) errorf(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return shared.Wrap(shared.EUNAVAILABLE, err, "%s at %s did not answer in time (%s)", d.name, d.host, what)
	case errors.Is(err, context.Canceled):
		return shared.Wrap(shared.EUNAVAILABLE, err, "%s: %s was cancelled", d.name, what)
	case unavailable(err):
		return shared.Wrap(shared.EUNAVAILABLE, err, "cannot reach %s at %s (%s): %s", d.name, d.host, what, engineMessage(err))
	case cerrdefs.IsNotFound(err):
		return shared.Wrap(shared.ENOTFOUND, err, "%s: %s: %s", d.name, what, engineMessage(err))
	case cerrdefs.IsInvalidArgument(err):
		return shared.Wrap(shared.EINVALID, err, "%s: %s: %s", d.name, what, engineMessage(err))
	case cerrdefs.IsConflict(err), cerrdefs.IsAlreadyExists(err):
		return shared.Wrap(shared.ECONFLICT, err, "%s: %s: %s", d.name, what, engineMessage(err))
	case cerrdefs.IsUnavailable(err):
		return shared.Wrap(shared.EUNAVAILABLE, err, "%s: %s: %s", d.name, what, engineMessage(err))
	}
	return shared.Wrap(shared.EINTERNAL, err, "%s: %s: %s", d.name, what, engineMessage(err))
}

// unavailable reports whether err means the engine could not be reached or
// dropped the connection.
func unavailable(err error) bool {
	if dockerclient.IsErrConnectionFailed(err) {
		return true
	}
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EPIPE)
}

func engineMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "Error response from daemon: ")
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func containerLabel(c container.Summary) string {
	if len(c.Names) > 0 {
		return strings.TrimPrefix(c.Names[0], "/")
	}
	return short(c.ID)
}
