package nomad_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/knot-dev/knot/shared"
)

func volumeDefinition(spaceID string) string {
	return fmt.Sprintf(`volumes:
  - id: "home-%[1]s"
    plugin_id: cephrbd
    type: csi
    capacity_min: 10G
    capacity_max: 20G
    mount_options:
      fs_type: ext4
      mount_flags: [noatime]
    capabilities:
      - access_mode: single-node-writer
        attachment_mode: file-system
    secrets:
      userID: admin
    parameters:
      clusterID: ceph-1
      pool: rbd
  - id: "data-%[1]s"
    name: data
    namespace: team-a
    plugin_id: nfs
    capabilities:
      - { access_mode: multi-node-multi-writer, attachment_mode: file-system }
`, spaceID)
}

func TestEnsureVolumesCreatesTheMissingVolumesOnly(t *testing.T) {
	f := newFakeNomad(t, testToken)
	f.AddNamespace("team-a")
	d := newDriver(t, f, "")
	w, logs := workload("")
	w.Volumes = volumeDefinition(w.SpaceID)
	f.PutVolume(&nomadapi.CSIVolume{ID: "data-" + w.SpaceID, Namespace: "team-a", PluginID: "nfs",
		RequestedCapabilities: []*nomadapi.CSIVolumeCapability{{AccessMode: "multi-node-multi-writer", AttachmentMode: "file-system"}}})

	if err := d.EnsureVolumes(ctxTimeout(t, 10*time.Second), w); err != nil {
		t.Fatalf("EnsureVolumes: %v", err)
	}

	created := f.Created()
	if len(created) != 1 {
		t.Fatalf("created %d volumes, want 1 (the other exists)", len(created))
	}
	v := created[0]
	const gib = int64(1) << 30
	if v.ID != "home-"+w.SpaceID || v.Name != v.ID || v.Namespace != "default" || v.PluginID != "cephrbd" ||
		v.RequestedCapacityMin != 10*gib || v.RequestedCapacityMax != 20*gib ||
		v.MountOptions == nil || v.MountOptions.FSType != "ext4" || !slices.Equal(v.MountOptions.MountFlags, []string{"noatime"}) ||
		len(v.RequestedCapabilities) != 1 || v.RequestedCapabilities[0].AccessMode != "single-node-writer" || v.RequestedCapabilities[0].AttachmentMode != "file-system" ||
		v.Secrets["userID"] != "admin" || v.Parameters["clusterID"] != "ceph-1" || v.Parameters["pool"] != "rbd" {
		t.Errorf("created volume = %+v", v)
	}
	if !strings.Contains(logs.String(), "created CSI volume home-"+w.SpaceID+" in namespace default") {
		t.Errorf("progress lines lack the creation:\n%s", logs)
	}

	if err := d.EnsureVolumes(ctxTimeout(t, 10*time.Second), w); err != nil {
		t.Fatalf("second EnsureVolumes: %v", err)
	}
	if n := len(f.Created()); n != 1 {
		t.Errorf("the second EnsureVolumes created %d more volumes, want none", n-1)
	}
}

func TestVolumesSurviveStopAndRemoveAndGoWithRemoveVolumes(t *testing.T) {
	f := newFakeNomad(t, testToken)
	f.AddNamespace("team-a")
	d := newDriver(t, f, "")
	w, _ := workload(setupSpec(f, "web", ""))
	w.Volumes = volumeDefinition(w.SpaceID)
	other := uuid.NewString()
	caps := []*nomadapi.CSIVolumeCapability{{AccessMode: "single-node-writer", AttachmentMode: "file-system"}}
	f.PutVolume(&nomadapi.CSIVolume{ID: "shared-cache", Namespace: "default", PluginID: "nfs", RequestedCapabilities: caps})
	f.PutVolume(&nomadapi.CSIVolume{ID: "home-" + other, Namespace: "default", PluginID: "cephrbd", RequestedCapabilities: caps})

	mustStart(t, d, w)
	if err := d.Stop(ctxTimeout(t, 10*time.Second), w.SpaceID, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(ctxTimeout(t, 10*time.Second), w.SpaceID); err != nil {
		t.Fatal(err)
	}
	want := []string{"default/home-" + other, "default/home-" + w.SpaceID, "default/shared-cache", "team-a/data-" + w.SpaceID}
	slices.Sort(want)
	if got := f.Volumes(); !slices.Equal(got, want) {
		t.Fatalf("volumes after Start, Stop and Remove = %v, want %v", got, want)
	}

	if err := d.RemoveVolumes(ctxTimeout(t, 10*time.Second), w.SpaceID); err != nil {
		t.Fatalf("RemoveVolumes: %v", err)
	}
	want = []string{"default/home-" + other, "default/shared-cache"}
	slices.Sort(want)
	if got := f.Volumes(); !slices.Equal(got, want) {
		t.Errorf("volumes after RemoveVolumes = %v, want %v", got, want)
	}
	if n := f.CountRequests("DELETE /v1/volume/csi/data-" + w.SpaceID + "/delete?namespace=team-a"); n != 1 {
		t.Errorf("data volume deleted %d times in its namespace, want 1", n)
	}
	if err := d.RemoveVolumes(ctxTimeout(t, 10*time.Second), w.SpaceID); err != nil {
		t.Errorf("second RemoveVolumes: %v", err)
	}
}

func TestRemoveVolumesReportsNomadTrouble(t *testing.T) {
	f := newFakeNomad(t, testToken)
	d := newDriver(t, f, "")
	id := uuid.NewString()
	f.PutVolume(&nomadapi.CSIVolume{ID: "home-" + id, Namespace: "default", PluginID: "cephrbd",
		RequestedCapabilities: []*nomadapi.CSIVolumeCapability{{AccessMode: "single-node-writer", AttachmentMode: "file-system"}}})
	f.Fail("DELETE", "/v1/volume/csi/.*/delete", 1, 500, `volume in use: home-`+id)

	err := d.RemoveVolumes(ctxTimeout(t, 10*time.Second), id)

	mustCode(t, err, shared.EUNAVAILABLE, "deleting CSI volume home-"+id, "volume in use")
	if err := d.RemoveVolumes(ctxTimeout(t, 10*time.Second), id); err != nil {
		t.Errorf("RemoveVolumes once Nomad lets go: %v", err)
	}
	if len(f.Volumes()) != 0 {
		t.Errorf("volumes left: %v", f.Volumes())
	}
}

func TestVolumeCapacitiesReadSizes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{"1073741824", 1 << 30},
		{"512B", 512},
		{"1K", 1 << 10},
		{"500M", 500 << 20},
		{"10G", 10 << 30},
		{"10Gi", 10 << 30},
		{"10GiB", 10 << 30},
		{"1.5G", 3 << 29},
		{"2T", 2 << 40},
		{"2t", 2 << 40},
	} {
		t.Run(tt.in, func(t *testing.T) {
			f := newFakeNomad(t, testToken)
			d := newDriver(t, f, "")
			w, _ := workload("")
			w.Volumes = fmt.Sprintf("volumes:\n  - id: v-%s\n    plugin_id: p\n    capacity_min: %q\n    capabilities: [{access_mode: single-node-writer, attachment_mode: block-device}]\n", w.SpaceID, tt.in)
			if err := d.EnsureVolumes(ctxTimeout(t, 10*time.Second), w); err != nil {
				t.Fatal(err)
			}
			if c := f.Created(); len(c) != 1 || c[0].RequestedCapacityMin != tt.want {
				t.Errorf("capacity_min %s = %+v, want %d bytes", tt.in, c, tt.want)
			}
		})
	}
}

func TestMalformedVolumeDefinitionsAreRefusedNamingTheLine(t *testing.T) {
	const ok = "    plugin_id: p\n    capabilities: [{access_mode: single-node-writer, attachment_mode: file-system}]\n"
	for _, tt := range []struct {
		name, def string
		want      []string
	}{
		{"YAMLSyntax", "volumes:\n  - id: a\n    plugin_id: p\n  bad\n", []string{"line 4", "could not find expected ':'"}},
		{"NotAMapping", "- id: a\n", []string{"line 1", "a mapping with a volumes list"}},
		{"UnknownTopKey", "volume:\n  - id: a\n", []string{"line 1", `unknown key "volume"`}},
		{"VolumesNotAList", "volumes: home\n", []string{"line 1", "volumes must be a list"}},
		{"UnknownVolumeKey", "volumes:\n  - id: a\n" + ok + "    size: 10G\n", []string{"line 5", `unknown volume key "size"`}},
		{"NoID", "volumes:\n  - name: a\n" + ok, []string{"line 2", "no id"}},
		{"BadID", "volumes:\n  - id: a/b\n" + ok, []string{"line 2", `volume id "a/b"`}},
		{"NoPlugin", "volumes:\n  - id: a\n    capabilities: [{access_mode: single-node-writer, attachment_mode: file-system}]\n", []string{"line 2", "no plugin_id"}},
		{"NoCapabilities", "volumes:\n  - id: a\n    plugin_id: p\n", []string{"line 2", "no capabilities"}},
		{"WrongType", "volumes:\n  - id: a\n    type: host\n" + ok, []string{"line 2", `type "host"`}},
		{"BadCapacity", "volumes:\n  - id: a\n" + ok + "    capacity_min: 10X\n", []string{"line 5", `capacity_min "10X" is not a size`}},
		{"MinOverMax", "volumes:\n  - id: a\n" + ok + "    capacity_min: 20G\n    capacity_max: 10G\n", []string{"line 5", "capacity_min is larger than capacity_max"}},
		{"BadAccessMode", "volumes:\n  - id: a\n    plugin_id: p\n    capabilities:\n      - access_mode: single-writer\n        attachment_mode: file-system\n", []string{"line 5", `access_mode "single-writer"`}},
		{"HalfCapability", "volumes:\n  - id: a\n    plugin_id: p\n    capabilities:\n      - access_mode: single-node-writer\n", []string{"line 5", "both access_mode and attachment_mode"}},
		{"MountFlagsNotAList", "volumes:\n  - id: a\n" + ok + "    mount_options:\n      mount_flags: noatime\n", []string{"line 6", "mount_flags must be a list"}},
		{"SecretsNotAMapping", "volumes:\n  - id: a\n" + ok + "    secrets: [a, b]\n", []string{"line 5", "secrets must be a mapping"}},
		{"Twice", "volumes:\n  - id: a\n" + ok + "  - id: a\n" + ok, []string{"line 5", "defined twice (first at line 2)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeNomad(t, testToken)
			d := newDriver(t, f, "")
			w, _ := workload("")
			w.Volumes = tt.def

			err := d.EnsureVolumes(ctxTimeout(t, 10*time.Second), w)

			mustCode(t, err, shared.EINVALID, append([]string{"volume definition"}, tt.want...)...)
			if n := len(f.Requests()); n != 0 {
				t.Errorf("%d requests to Nomad for a malformed definition, want 0", n)
			}
		})
	}
}

func TestStartRefusesAMalformedVolumeDefinitionBeforeTouchingNomad(t *testing.T) {
	f := newFakeNomad(t, testToken)
	d := newDriver(t, f, "")
	w, _ := workload(setupSpec(f, "web", ""))
	w.Volumes = "volumes:\n  - id: a\n"

	_, err := d.Start(ctxTimeout(t, 10*time.Second), w)

	mustCode(t, err, shared.EINVALID, "volume definition line 2")
	if n := len(f.Requests()); n != 0 {
		t.Errorf("%d requests to Nomad, want 0", n)
	}
}
