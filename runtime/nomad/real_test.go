package nomad_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/runtime/nomad"
	"github.com/knot-dev/knot/shared"
)

// TestAgainstARealNomad runs a space's life on the Nomad agent at
// NOMAD_ADDR (with NOMAD_TOKEN if ACLs are on). The agent's client needs the
// docker driver; KNOT_NOMAD_TEST_IMAGE names the image (busybox:1.36 by
// default) and KNOT_NOMAD_TEST_DATACENTER the datacenter, for Nomad before
// 1.6 which has no default.
func TestAgainstARealNomad(t *testing.T) {
	addr := os.Getenv("NOMAD_ADDR")
	if addr == "" {
		t.Skip("NOMAD_ADDR is not set; set it (e.g. http://127.0.0.1:4646) to run the driver against a real Nomad agent")
	}
	u, err := url.Parse(addr)
	if err != nil {
		t.Fatalf("NOMAD_ADDR %q: %v", addr, err)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		t.Skipf("NOMAD_ADDR %s is not a loopback address; knot's tests talk to loopback only", addr)
	}
	image := os.Getenv("KNOT_NOMAD_TEST_IMAGE")
	if image == "" {
		image = "busybox:1.36"
	}
	var dc string
	if v := os.Getenv("KNOT_NOMAD_TEST_DATACENTER"); v != "" {
		dc = fmt.Sprintf("  datacenters = [%q]\n", v)
	}

	w, logs := workload("")
	jobID := "knot-test-" + w.SpaceID[:8]
	w.Spec = fmt.Sprintf(`job %q {
%s  group "dev" {
    task "dev" {
      driver = "docker"
      config {
        image   = %q
        command = "sh"
        args    = ["-c", "echo space $KNOT_SPACE_ID; exec sleep 3600"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`, jobID, dc, image)
	d, err := nomad.New(nomad.Options{Location: "knot-test-" + w.SpaceID[:8], Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := d.Ping(ctx); err != nil {
		t.Fatalf("NOMAD_ADDR is set but Nomad does not answer: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.Remove(ctx, w.SpaceID); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	st, err := d.Start(ctx, w)
	if err != nil {
		t.Fatalf("Start: %v\nprogress:\n%s", err, logs)
	}
	if st.State != runtime.StateRunning || st.ID != jobID || st.Hash != w.Hash {
		t.Errorf("Start = %+v", st)
	}
	if st := mustInspect(t, d, w.SpaceID); st.State != runtime.StateRunning {
		t.Errorf("Inspect after Start = %+v", st)
	}
	list, err := d.List(ctx)
	if err != nil || len(list) != 1 || list[0].SpaceID != w.SpaceID {
		t.Errorf("List = %v, %v; want this space only", list, err)
	}

	if err := d.Stop(ctx, w.SpaceID, 5*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if st := mustInspect(t, d, w.SpaceID); st.State != runtime.StateExited || st.Reason != "job was stopped" {
		t.Errorf("Inspect after Stop = %+v", st)
	}
	if err := d.Remove(ctx, w.SpaceID); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if st := mustInspect(t, d, w.SpaceID); st.State != runtime.StateMissing {
		t.Errorf("Inspect after Remove = %+v", st)
	}

	bad, _ := workload(strings.Replace(w.Spec, `driver = "docker"`, `driverx = "docker"`, 1))
	_, err = d.Start(ctx, bad)
	mustCode(t, err, shared.EINVALID, "cannot parse the job spec", "driverx")
}
