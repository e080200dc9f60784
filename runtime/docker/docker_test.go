package docker_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	dockerclient "github.com/docker/docker/client"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/runtime/docker"
	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/testenv"
)

// The engines are started once for the package: a private dockerd and a
// private podman service, each with the test image.
var (
	engines   = map[string]*runtimetest.Engine{}
	engineErr = map[string]error{}
)

var engineNames = []string{"docker", "podman"}

func TestMain(m *testing.M) {
	flag.Parse()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range engineNames {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := runtimetest.StartDocker
			if name == "podman" {
				start = runtimetest.StartPodman
			}
			t0 := time.Now()
			e, err := start(context.Background())
			if testing.Verbose() {
				fmt.Fprintf(os.Stderr, "starting %s took %v (error: %v)\n", name, time.Since(t0).Round(time.Millisecond), err)
			}
			mu.Lock()
			engines[name], engineErr[name] = e, err
			mu.Unlock()
		}()
	}
	wg.Wait()
	code := m.Run()
	for _, e := range engines {
		if e != nil {
			if err := e.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "closing %s: %v\n", e.Name, err)
			}
		}
	}
	os.Exit(code)
}

// forEachEngine runs f as a subtest per engine, skipping (or failing, in
// CI) for an engine that is not available.
func forEachEngine(t *testing.T, f func(t *testing.T, e *runtimetest.Engine)) {
	for _, name := range engineNames {
		t.Run(name, func(t *testing.T) {
			e := engines[name]
			if e == nil {
				testenv.Missing(t, name, engineErr[name])
			}
			f(t, e)
		})
	}
}

func newDriver(t testing.TB, e *runtimetest.Engine, host, location string, agent bool) *docker.Driver {
	t.Helper()
	opts := docker.Options{Host: host, Name: e.Name, Location: location, Logger: slog.New(slog.DiscardHandler)}
	if agent {
		opts.AgentBinary = e.Knot(t)
	}
	d, err := docker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func client(t testing.TB, e *runtimetest.Engine) *dockerclient.Client {
	t.Helper()
	cli, err := e.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func spaceContainers(t testing.TB, cli *dockerclient.Client, spaceID string) []container.Summary {
	t.Helper()
	list, err := cli.ContainerList(context.Background(), container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", docker.LabelSpaceID+"="+spaceID))})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// untilServing waits until the container id runs ServeCommand's loop: its
// shell, the container's first process, ignores SIGTERM until it has set
// its trap, so a stop sent before then waits out its timeout and kills it
// (exit code 137), where the suite expects the clean exit a stop gives.
func untilServing(t *testing.T, cli *dockerclient.Client, id string) {
	t.Helper()
	runtimetest.WaitFor(t, 20*time.Second, "the container's command to set its trap", func() bool {
		top, err := cli.ContainerTop(context.Background(), id, nil)
		if err != nil {
			return false
		}
		for _, p := range top.Processes {
			if strings.Contains(strings.Join(p, " "), "sleep 3600") {
				return true
			}
		}
		return false
	})
}

func harness(t *testing.T, e *runtimetest.Engine) runtimetest.Harness {
	cli := client(t, e)
	ctx := context.Background()
	each := func(t *testing.T, id string, f func(c container.Summary) error) {
		t.Helper()
		list := spaceContainers(t, cli, id)
		if len(list) == 0 {
			t.Fatalf("space %s has no container", id)
		}
		for _, c := range list {
			if err := f(c); err != nil {
				t.Fatal(err)
			}
		}
	}
	return runtimetest.Harness{
		NewRuntime: func(t *testing.T, loc string) runtime.Runtime { return newDriver(t, e, e.Host, loc, false) },
		NewFlakyRuntime: func(t *testing.T, loc string) (runtime.Runtime, func(bool)) {
			p, err := runtimetest.NewProxy(e.Socket)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			return newDriver(t, e, "unix://"+p.Path, loc, false), func(up bool) {
				if err := p.SetUp(up); err != nil {
					t.Fatal(err)
				}
			}
		},
		Image:        e.Image,
		MissingImage: runtimetest.MissingImage,
		RemoveOutside: func(t *testing.T, id string) {
			each(t, id, func(c container.Summary) error {
				return cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
			})
		},
		StopOutside: func(t *testing.T, id string) {
			timeout := 10
			each(t, id, func(c container.Summary) error {
				untilServing(t, cli, c.ID)
				return cli.ContainerStop(ctx, c.ID, container.StopOptions{Timeout: &timeout})
			})
		},
		RestartOutside: func(t *testing.T, id string) {
			timeout := 10
			each(t, id, func(c container.Summary) error {
				untilServing(t, cli, c.ID)
				return cli.ContainerRestart(ctx, c.ID, container.StopOptions{Timeout: &timeout})
			})
		},
		Volumes: func(t *testing.T, id string) []string {
			res, err := cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", docker.LabelSpaceID+"="+id))})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, v := range res.Volumes {
				names = append(names, v.Name)
			}
			return names
		},
	}
}

func TestLifecycle(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *runtimetest.Engine) {
		runtimetest.RunLifecycle(t, harness(t, e))
	})
}

func TestContainerCarriesAgentEnvAndBinary(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *runtimetest.Engine) {
		loc := "agent-" + e.Name
		d := newDriver(t, e, e.Host, loc, true)
		env := runtimetest.NewEnv(t, d, loc, e.Image, false)
		s := env.Space(nil, "dev")
		run := env.MustStart(s)
		ctx := context.Background()
		exec := func(cmd ...string) (string, int) {
			t.Helper()
			out, code, err := d.Exec(ctx, s.ID, cmd)
			if err != nil {
				t.Fatalf("exec %v: %v", cmd, err)
			}
			return out, code
		}
		out, code := exec("env")
		for _, want := range []string{
			runtime.EnvAgentEndpoint + "=127.0.0.1:3010",
			runtime.EnvSpaceID + "=" + s.ID,
		} {
			if code != 0 || !strings.Contains(out, want+"\n") {
				t.Errorf("env (exit %d) lacks %q:\n%s", code, want, out)
			}
		}
		if token, code := exec(runtimetest.Command("env", runtime.EnvAgentToken)...); code != 0 || crypt.HashToken(strings.TrimSpace(token)) != run.AgentTokenHash {
			t.Errorf("%s (exit %d) is not the token whose hash the space holds", runtime.EnvAgentToken, code)
		}
		if strings.Contains(out, "KNOT_SPACE_ID=not-the-space-id") {
			t.Errorf("the spec's KNOT_SPACE_ID survived next to knot's:\n%s", out)
		}
		if out, code := exec("ls", "-l", docker.AgentPath); code != 0 || !strings.Contains(out, docker.AgentPath) {
			t.Fatalf("ls %s: exit %d: %s", docker.AgentPath, code, out)
		}
		if out, code := exec(docker.AgentPath, "version"); code != 0 || !strings.HasPrefix(out, "knot ") {
			t.Fatalf("the injected knot said %q (exit %d); want its version", out, code)
		}
		if _, code := exec("sh", "-c", "echo x > "+docker.AgentPath); code == 0 {
			t.Fatal("the injected binary is writable from the container")
		}

		cli := client(t, e)
		ins, err := cli.ContainerInspect(ctx, run.ContainerID)
		if err != nil {
			t.Fatal(err)
		}
		if name := strings.TrimPrefix(ins.Name, "/"); name != docker.ContainerName(s.ID) {
			t.Errorf("container name %q; want %q", name, docker.ContainerName(s.ID))
		}
		for k, want := range map[string]string{
			docker.LabelSpaceID: s.ID, docker.LabelLocation: loc, docker.LabelHash: env.Template.Hash,
			docker.LabelSpace: "dev", docker.LabelUser: "ann",
		} {
			if got := ins.Config.Labels[k]; got != want {
				t.Errorf("label %s = %q; want %q", k, got, want)
			}
		}
		vol, err := cli.VolumeInspect(ctx, docker.VolumeName(s.ID, "home"))
		if err != nil {
			t.Fatalf("volume %s: %v", docker.VolumeName(s.ID, "home"), err)
		}
		if vol.Labels[docker.LabelSpaceID] != s.ID || vol.Labels[docker.LabelVolume] != "home" || vol.Labels[docker.LabelLocation] != loc {
			t.Errorf("volume labels %v", vol.Labels)
		}
	})
}

func TestResourceLimitsApplied(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *runtimetest.Engine) {
		loc := "limits-" + e.Name
		d := newDriver(t, e, e.Host, loc, false)
		env := runtimetest.NewEnv(t, d, loc, e.Image, false)
		tmpl := env.Records.PutTemplate(&shared.Template{Name: "small", Kind: shared.TemplateContainer,
			Spec: "image: " + e.Image + "\nnetwork: host\ncpus: 0.5\nmemory: 64m\n"})
		s := env.Records.AddSpace(env.User, tmpl, "small")
		run := env.MustStart(s)
		ins, err := client(t, e).ContainerInspect(context.Background(), run.ContainerID)
		if err != nil {
			t.Fatal(err)
		}
		if ins.HostConfig.NanoCPUs != 5e8 || ins.HostConfig.Memory != 64<<20 {
			t.Fatalf("NanoCPUs %d, Memory %d; want 5e8 and 64 MiB", ins.HostConfig.NanoCPUs, ins.HostConfig.Memory)
		}
	})
}

func TestWrongSocketFailsSpaceWithReason(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *runtimetest.Engine) {
		host := "unix://" + t.TempDir() + "/nothing.sock"
		d := newDriver(t, e, host, "nowhere", false)
		ctx := context.Background()
		if err := d.Ping(ctx); shared.ErrorCode(err) != shared.EUNAVAILABLE {
			t.Fatalf("Ping = %v; want EUNAVAILABLE", err)
		}
		env := runtimetest.NewEnv(t, d, "nowhere", e.Image, false)
		s := env.Space(nil, "dev")
		if err := env.Manager.Start(ctx, s.ID); shared.ErrorCode(err) != shared.EUNAVAILABLE {
			t.Fatalf("Start = %v; want EUNAVAILABLE", err)
		}
		got := env.Records.Space(s.ID)
		want := "cannot reach " + e.Name + " at " + host
		if got.State != shared.SpaceFailed || !strings.Contains(got.Reason, want) {
			t.Fatalf("state %q reason %q; want failed with %q", got.State, got.Reason, want)
		}
		if err := env.Records.DeleteSpace(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestVolumeOfAnotherOwnerIsRefused(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *runtimetest.Engine) {
		loc := "squat-" + e.Name
		d := newDriver(t, e, e.Host, loc, false)
		env := runtimetest.NewEnv(t, d, loc, e.Image, false)
		s := env.Space(nil, "dev")
		cli := client(t, e)
		ctx := context.Background()
		name := docker.VolumeName(s.ID, "home")
		if _, err := cli.VolumeCreate(ctx, volume.CreateOptions{Name: name}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.VolumeRemove(context.Background(), name, true) })
		err := env.Manager.Start(ctx, s.ID)
		if shared.ErrorCode(err) != shared.ECONFLICT || !strings.Contains(err.Error(), "was not made by knot for this space") {
			t.Fatalf("Start = %v; want ECONFLICT about the volume", err)
		}
	})
}

// TestTwentyConcurrentStarts starts 20 spaces at once on one manager; all
// must run, each in its own container.
func TestTwentyConcurrentStarts(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *runtimetest.Engine) {
		loc := "twenty-" + e.Name
		d := newDriver(t, e, e.Host, loc, false)
		env := runtimetest.NewEnv(t, d, loc, e.Image, false)
		var spaces []*shared.Space
		for i := range 20 {
			spaces = append(spaces, env.Space(nil, fmt.Sprintf("s%02d", i)))
		}
		start := time.Now()
		errs := make(chan error, len(spaces))
		for _, s := range spaces {
			go func() { errs <- env.Manager.Start(context.Background(), s.ID) }()
		}
		for range spaces {
			if err := <-errs; err != nil {
				t.Errorf("a start failed: %v", err)
			}
		}
		took := time.Since(start)
		ids := map[string]bool{}
		for _, s := range spaces {
			got := env.Records.Space(s.ID)
			if got.State != shared.SpaceRunning {
				t.Errorf("%s is %s: %s", s.Name, got.State, got.Reason)
			}
			ids[got.ContainerID] = true
		}
		if len(ids) != len(spaces) {
			t.Errorf("%d distinct containers for %d spaces", len(ids), len(spaces))
		}
		list, err := d.List(context.Background())
		if err != nil || len(list) != len(spaces) {
			t.Fatalf("List: %d workloads, %v; want %d", len(list), err, len(spaces))
		}
		t.Logf("%s: 20 concurrent starts took %v", e.Name, took.Round(time.Millisecond))
	})
}
