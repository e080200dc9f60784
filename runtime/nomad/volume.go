package nomad

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	nomadapi "github.com/hashicorp/nomad/api"
	"gopkg.in/yaml.v3"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
)

// EnsureVolumes creates the CSI volumes of the workload's volume definition
// that Nomad does not have yet. It never changes or removes a volume.
//
// The definition is YAML:
//
//	volumes:
//	  - id: "home-${{ .space.id }}"     # required; contains the space id to be deleted with the space
//	    name: "home"                     # default: the id
//	    namespace: "team-a"              # default: the driver's namespace
//	    plugin_id: "cephrbd"             # required
//	    type: csi                        # the only type
//	    capacity_min: 10G                # bytes, or a number with K, M, G, T (powers of 1024)
//	    capacity_max: 20G
//	    mount_options: { fs_type: ext4, mount_flags: [noatime] }
//	    capabilities:                    # at least one
//	      - { access_mode: single-node-writer, attachment_mode: file-system }
//	    secrets: { key: value }
//	    parameters: { key: value }
func (d *Driver) EnsureVolumes(ctx context.Context, w *runtime.Workload) error {
	vols, err := parseVolumes(w.Volumes, d.namespace)
	if err != nil {
		return err
	}
	return d.ensureVolumes(ctx, w, vols)
}

func (d *Driver) ensureVolumes(ctx context.Context, w *runtime.Workload, vols []*nomadapi.CSIVolume) error {
	for _, v := range vols {
		_, _, err := d.cli.CSIVolumes().Info(v.ID, d.query(ctx, v.Namespace))
		if err == nil {
			continue
		}
		if !isNotFound(err) {
			return d.errorf(err, "reading CSI volume %s in namespace %s", v.ID, v.Namespace)
		}
		if _, _, err := d.cli.CSIVolumes().Create(v, d.write(ctx, v.Namespace)); err != nil {
			return d.errorf(err, "creating CSI volume %s in namespace %s", v.ID, v.Namespace)
		}
		d.log.Info("created CSI volume", "space", w.SpaceID, "volume", v.ID, "namespace", v.Namespace)
		w.Log("created CSI volume %s in namespace %s", v.ID, v.Namespace)
		if !strings.Contains(v.ID, w.SpaceID) {
			w.Log("CSI volume %s does not name the space id; it is shared and stays when the space is deleted", v.ID)
		}
	}
	return nil
}

// RemoveVolumes deletes, in the storage provider and in Nomad, every CSI
// volume whose id contains the space id.
func (d *Driver) RemoveVolumes(ctx context.Context, spaceID string) error {
	if len(spaceID) < 8 {
		return shared.Errorf(shared.EINVALID, "nomad: space id %q is too short to tell its volumes apart", spaceID)
	}
	list, _, err := d.cli.CSIVolumes().List(d.query(ctx, "*"))
	if err != nil {
		return d.errorf(err, "listing CSI volumes")
	}
	for _, v := range list {
		if !strings.Contains(v.ID, spaceID) {
			continue
		}
		ns := v.Namespace
		if ns == "" {
			ns = DefaultNamespace
		}
		err := d.cli.CSIVolumes().DeleteOpts(&nomadapi.CSIVolumeDeleteRequest{ExternalVolumeID: v.ID}, d.write(ctx, ns))
		if err != nil && !volumeGone(err) {
			return d.errorf(err, "deleting CSI volume %s in namespace %s", v.ID, ns)
		}
		d.log.Info("deleted CSI volume", "space", spaceID, "volume", v.ID, "namespace", ns)
	}
	return nil
}

// volumeGone reports an error that says the volume no longer exists, which
// some Nomad versions answer with a 500.
func volumeGone(err error) bool {
	if isNotFound(err) {
		return true
	}
	var re nomadapi.UnexpectedResponseError
	return errors.As(err, &re) && strings.Contains(strings.ToLower(re.Body()), "volume not found")
}

// --- the volume definition ---

var (
	volumeIDRe      = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	accessModes     = []string{"single-node-reader-only", "single-node-writer", "multi-node-reader-only", "multi-node-single-writer", "multi-node-multi-writer"}
	attachmentModes = []string{"file-system", "block-device"}
	volumeKeys      = []string{"id", "name", "namespace", "plugin_id", "type", "capacity_min", "capacity_max", "mount_options", "capabilities", "secrets", "parameters"}
)

// parseVolumes reads a volume definition; ns is the namespace of volumes
// that name none. Errors are EINVALID and name the line.
func parseVolumes(src, ns string) ([]*nomadapi.CSIVolume, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if strings.HasPrefix(msg, "line ") {
			return nil, shared.Errorf(shared.EINVALID, "volume definition %s", msg)
		}
		return nil, shared.Errorf(shared.EINVALID, "volume definition: %s", msg)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if isNull(root) {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, lineErr(root, "the definition must be a mapping with a volumes list")
	}
	var out []*nomadapi.CSIVolume
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "volumes" {
			return nil, lineErr(k, "unknown key %q; the definition has one key, volumes", k.Value)
		}
		if isNull(v) {
			continue
		}
		if v.Kind != yaml.SequenceNode {
			return nil, lineErr(v, "volumes must be a list")
		}
		for _, item := range v.Content {
			vol, err := parseVolume(item, ns)
			if err != nil {
				return nil, err
			}
			key := vol.Namespace + "/" + vol.ID
			if prev, ok := seen[key]; ok {
				return nil, lineErr(item, "volume %s is defined twice (first at line %d)", vol.ID, prev)
			}
			seen[key] = item.Line
			out = append(out, vol)
		}
	}
	return out, nil
}

func parseVolume(n *yaml.Node, ns string) (*nomadapi.CSIVolume, error) {
	if n.Kind != yaml.MappingNode {
		return nil, lineErr(n, "a volume must be a mapping with id, plugin_id, capabilities, ...")
	}
	v := &nomadapi.CSIVolume{}
	typ := "csi"
	var minNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		var err error
		switch k.Value {
		case "id":
			v.ID, err = scalar(k, val)
		case "name":
			v.Name, err = scalar(k, val)
		case "namespace":
			v.Namespace, err = scalar(k, val)
		case "plugin_id":
			v.PluginID, err = scalar(k, val)
		case "type":
			typ, err = scalar(k, val)
		case "capacity_min":
			v.RequestedCapacityMin, err = size(k, val)
			minNode = val
		case "capacity_max":
			v.RequestedCapacityMax, err = size(k, val)
		case "mount_options":
			v.MountOptions, err = mountOptions(val)
		case "capabilities":
			v.RequestedCapabilities, err = capabilities(val)
		case "secrets":
			var m map[string]string
			m, err = stringMap(k, val)
			v.Secrets = nomadapi.CSISecrets(m)
		case "parameters":
			v.Parameters, err = stringMap(k, val)
		default:
			err = lineErr(k, "unknown volume key %q; the keys are %s", k.Value, strings.Join(volumeKeys, ", "))
		}
		if err != nil {
			return nil, err
		}
	}
	switch {
	case v.ID == "":
		return nil, lineErr(n, "the volume has no id")
	case !volumeIDRe.MatchString(v.ID):
		return nil, lineErr(n, "volume id %q may hold only letters, digits, '.', '_' and '-' (at most 128)", v.ID)
	case v.PluginID == "":
		return nil, lineErr(n, "volume %s has no plugin_id", v.ID)
	case typ != "" && typ != "csi":
		return nil, lineErr(n, "volume %s has type %q; nomad volumes are of type csi", v.ID, typ)
	case len(v.RequestedCapabilities) == 0:
		return nil, lineErr(n, "volume %s has no capabilities; give at least one access_mode and attachment_mode", v.ID)
	case v.RequestedCapacityMax > 0 && v.RequestedCapacityMin > v.RequestedCapacityMax:
		return nil, lineErr(minNode, "volume %s: capacity_min is larger than capacity_max", v.ID)
	}
	if v.Name == "" {
		v.Name = v.ID
	}
	if v.Namespace == "" {
		v.Namespace = ns
	}
	return v, nil
}

func mountOptions(n *yaml.Node) (*nomadapi.CSIMountOptions, error) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, lineErr(n, "mount_options must be a mapping with fs_type and mount_flags")
	}
	mo := &nomadapi.CSIMountOptions{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "fs_type":
			s, err := scalar(k, val)
			if err != nil {
				return nil, err
			}
			mo.FSType = s
		case "mount_flags":
			if isNull(val) {
				continue
			}
			if val.Kind != yaml.SequenceNode {
				return nil, lineErr(val, "mount_flags must be a list of strings")
			}
			for _, f := range val.Content {
				s, err := scalar(k, f)
				if err != nil {
					return nil, err
				}
				mo.MountFlags = append(mo.MountFlags, s)
			}
		default:
			return nil, lineErr(k, "unknown mount_options key %q; the keys are fs_type and mount_flags", k.Value)
		}
	}
	return mo, nil
}

func capabilities(n *yaml.Node) ([]*nomadapi.CSIVolumeCapability, error) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, lineErr(n, "capabilities must be a list of access_mode and attachment_mode pairs")
	}
	var out []*nomadapi.CSIVolumeCapability
	for _, item := range n.Content {
		if item.Kind != yaml.MappingNode {
			return nil, lineErr(item, "a capability must be a mapping with access_mode and attachment_mode")
		}
		c := &nomadapi.CSIVolumeCapability{}
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, val := item.Content[i], item.Content[i+1]
			s, err := scalar(k, val)
			if err != nil {
				return nil, err
			}
			switch k.Value {
			case "access_mode":
				if !slices.Contains(accessModes, s) {
					return nil, lineErr(val, "access_mode %q is not one of %s", s, strings.Join(accessModes, ", "))
				}
				c.AccessMode = nomadapi.CSIVolumeAccessMode(s)
			case "attachment_mode":
				if !slices.Contains(attachmentModes, s) {
					return nil, lineErr(val, "attachment_mode %q is not one of %s", s, strings.Join(attachmentModes, ", "))
				}
				c.AttachmentMode = nomadapi.CSIVolumeAttachmentMode(s)
			default:
				return nil, lineErr(k, "unknown capability key %q; the keys are access_mode and attachment_mode", k.Value)
			}
		}
		if c.AccessMode == "" || c.AttachmentMode == "" {
			return nil, lineErr(item, "a capability needs both access_mode and attachment_mode")
		}
		out = append(out, c)
	}
	return out, nil
}

func stringMap(key, n *yaml.Node) (map[string]string, error) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, lineErr(n, "%s must be a mapping of names to strings", key.Value)
	}
	m := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		s, err := scalar(k, val)
		if err != nil {
			return nil, err
		}
		m[k.Value] = s
	}
	return m, nil
}

func scalar(key, n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return "", lineErr(n, "%s must be a single value", key.Value)
	}
	return n.Value, nil
}

var sizeRe = regexp.MustCompile(`(?i)^(\d+(?:\.\d+)?)\s*(?:([KMGTP])(?:IB|I|B)?|B)?$`)

// size reads a capacity: bytes, or a number with K, M, G, T or P (powers of
// 1024; "Gi", "GiB" and "GB" mean the same).
func size(key, n *yaml.Node) (int64, error) {
	s, err := scalar(key, n)
	if err != nil {
		return 0, err
	}
	m := sizeRe.FindStringSubmatch(strings.TrimSpace(s))
	bad := lineErr(n, "%s %q is not a size; use bytes or a number with K, M, G or T", key.Value, s)
	if m == nil {
		return 0, bad
	}
	num, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, bad
	}
	exp := strings.Index("KMGTP", strings.ToUpper(m[2])) + 1
	if m[2] == "" {
		exp = 0
	}
	bytes := num * math.Pow(1024, float64(exp))
	if bytes >= math.MaxInt64 {
		return 0, lineErr(n, "%s %q is too large", key.Value, s)
	}
	return int64(bytes), nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func lineErr(n *yaml.Node, format string, args ...any) error {
	return shared.Errorf(shared.EINVALID, "volume definition line %d: %s", n.Line, fmt.Sprintf(format, args...))
}
