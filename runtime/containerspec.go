package runtime

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"path"
	"regexp"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"gopkg.in/yaml.v3"

	"github.com/knot-dev/knot/shared"
)

// ContainerSpec is the rendered spec of a container template, the YAML the
// predecessor used for Docker and Podman plus resource limits:
//
//	image: registry.example.com/dev:latest   # required
//	auth: {username: u, password: p}         # registry credentials for the pull
//	ports: ["127.0.0.1:8080:80/tcp", "2222:22"]
//	volumes: ["home:/home", "/srv/shared:/shared:ro"]
//	environment: ["TZ=Europe/London"]
//	command: ["/usr/local/bin/start", "--verbose"]
//	network: host
//	privileged: false
//	cap_add: [NET_ADMIN]
//	cap_drop: [MKNOD]
//	devices: ["/dev/fuse:/dev/fuse"]
//	hostname: dev
//	container_name: dev-${{ .space.id }}
//	cpus: 1.5
//	memory: 2g
//
// A volume whose source is a name is a volume of the space: knot creates it
// on the first start, keeps it across stops, starts and template edits, and
// removes it only when the space is deleted. A source that is an absolute
// path is a bind mount of that host path.
type ContainerSpec struct {
	Image         string
	Auth          *RegistryAuth
	Ports         []PortMapping
	Volumes       []Mount
	Environment   []string // "KEY=value"
	Command       []string
	Network       string
	Privileged    bool
	CapAdd        []string
	CapDrop       []string
	Devices       []Device
	Hostname      string
	ContainerName string
	CPUs          float64 // 0 means no limit
	Memory        int64   // bytes; 0 means no limit
}

// RegistryAuth holds the credentials used to pull a spec's image.
type RegistryAuth struct {
	Username string
	Password string
}

// PortMapping publishes ContainerPort on HostIP:HostPort. An empty HostIP
// means every address of the host.
type PortMapping struct {
	HostIP        string
	HostPort      uint16
	ContainerPort uint16
	Protocol      string // tcp, udp or sctp
}

// Mount is one entry of volumes.
type Mount struct {
	Source   string // a volume name, or a host path when Bind is set
	Target   string // absolute path in the container
	ReadOnly bool
	Bind     bool
}

// Device makes a host device available in the container.
type Device struct {
	HostPath      string
	ContainerPath string
	Permissions   string // a combination of r, w and m; "rwm" by default
}

// VolumeNames returns the names of the space volumes the spec mounts, each
// once, in order.
func (s *ContainerSpec) VolumeNames() []string {
	var names []string
	seen := map[string]bool{}
	for _, m := range s.Volumes {
		if !m.Bind && !seen[m.Source] {
			seen[m.Source] = true
			names = append(names, m.Source)
		}
	}
	return names
}

// MinMemory is the smallest memory limit the engines accept.
const MinMemory = 6 << 20

var (
	volumeNameRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)
	capRe        = regexp.MustCompile(`^(CAP_)?[A-Z][A-Z0-9_]*$|^ALL$`)
	envKeyRe     = regexp.MustCompile(`^[^=\s]+$`)
	hostnameRe   = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)
	ctrNameRe    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)
	networkRe    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,127}$`)
	yamlLineRe   = regexp.MustCompile(`^line (\d+): (.*)$`)
)

// specError is an EINVALID *shared.SpecError at n that names the line and
// the key.
func specError(n *yaml.Node, key, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if key != "" {
		msg = key + ": " + msg
	}
	return atLine(n.Line, n.Column, msg)
}

// atLine is an EINVALID *shared.SpecError at line and column (0: not
// known) whose message begins with the line.
func atLine(line, column int, msg string) *shared.SpecError {
	return &shared.SpecError{Line: line, Column: column, Err: shared.Errorf(shared.EINVALID, "line %d: %s", line, msg)}
}

// ParseContainerSpec parses and validates a rendered container spec. Every
// error is EINVALID and names the line and the key, for example
// `line 4: ports: "80:80:80:80" is not [ip:]host_port:container_port[/protocol]`.
func ParseContainerSpec(src string) (*ContainerSpec, error) {
	s, err := parseContainerSpec(src)
	return s, onALine(src, err)
}

// onALine moves the place of a *shared.SpecError past the end of src (as
// yaml.v3 places the empty node of a document of "---") to its last line.
func onALine(src string, err error) error {
	var se *shared.SpecError
	if errors.As(err, &se) {
		last := strings.Count(src, "\n") + strings.Count(src, "\r") - strings.Count(src, "\r\n") + 1
		if strings.HasSuffix(src, "\n") || strings.HasSuffix(src, "\r") {
			last--
		}
		if se.Line > max(last, 1) {
			se.Line, se.Column = max(last, 1), 0
		}
	}
	return err
}

func parseContainerSpec(src string) (*ContainerSpec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return nil, yamlError(src, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, atLine(1, 0, "the container spec is empty; it needs at least an image")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, specError(root, "", "the container spec must be a mapping of keys such as image, ports and volumes")
	}
	s := &ContainerSpec{}
	seen := map[string]*yaml.Node{}
	var hostnameNode, networkNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		if prev, dup := seen[key]; dup {
			return nil, specError(k, key, "set twice (first on line %d)", prev.Line)
		}
		seen[key] = k
		var err error
		switch key {
		case "image":
			s.Image, err = scalarString(v, key)
			if err == nil && (s.Image == "" || strings.ContainsAny(s.Image, " \t\r\n")) {
				err = specError(v, key, "%q is not an image reference", s.Image)
			}
		case "auth":
			s.Auth, err = parseAuth(v)
		case "ports":
			s.Ports, err = parseList(v, key, parsePort)
		case "volumes":
			s.Volumes, err = parseList(v, key, parseMount)
		case "environment":
			s.Environment, err = parseList(v, key, func(n *yaml.Node, raw string) (string, error) {
				k, _, ok := strings.Cut(raw, "=")
				if !ok || !envKeyRe.MatchString(k) {
					return "", specError(n, key, "%q is not KEY=value", raw)
				}
				return raw, nil
			})
		case "command":
			s.Command, err = parseList(v, key, func(_ *yaml.Node, raw string) (string, error) { return raw, nil })
		case "network":
			s.Network, err = scalarString(v, key)
			if err == nil && !networkRe.MatchString(s.Network) {
				err = specError(v, key, "%q is not a network name or mode (host, bridge, none, container:<name>)", s.Network)
			}
			networkNode = v
		case "privileged":
			s.Privileged, err = scalarBool(v, key)
		case "cap_add", "cap_drop":
			var caps []string
			caps, err = parseList(v, key, func(n *yaml.Node, raw string) (string, error) {
				c := strings.ToUpper(raw)
				if !capRe.MatchString(c) {
					return "", specError(n, key, "%q is not a capability such as NET_ADMIN", raw)
				}
				return c, nil
			})
			if key == "cap_add" {
				s.CapAdd = caps
			} else {
				s.CapDrop = caps
			}
		case "devices":
			s.Devices, err = parseList(v, key, parseDevice)
		case "hostname":
			s.Hostname, err = scalarString(v, key)
			if err == nil && (len(s.Hostname) > 253 || !hostnameRe.MatchString(s.Hostname)) {
				err = specError(v, key, "%q is not a host name", s.Hostname)
			}
			hostnameNode = v
		case "container_name":
			s.ContainerName, err = scalarString(v, key)
			if err == nil && !ctrNameRe.MatchString(s.ContainerName) {
				err = specError(v, key, "%q is not a container name: use letters, digits, '_', '.' and '-', starting with a letter or digit", s.ContainerName)
			}
		case "cpus":
			s.CPUs, err = parseCPUs(v)
		case "memory":
			s.Memory, err = parseMemory(v)
		default:
			err = specError(k, "", "unknown key %q (known: image, auth, ports, volumes, environment, command, network, privileged, cap_add, cap_drop, devices, hostname, container_name, cpus, memory)", key)
		}
		if err != nil {
			return nil, err
		}
	}
	if s.Image == "" {
		if _, ok := seen["image"]; !ok {
			return nil, specError(root, "image", "missing; the container spec must name an image")
		}
	}
	if hostnameNode != nil && s.Network == "host" {
		return nil, specError(hostnameNode, "hostname", "cannot be set with network: host (line %d); the container uses the host's name", networkNode.Line)
	}
	targets := map[string]int{}
	for _, m := range s.Volumes {
		if _, dup := targets[m.Target]; dup {
			return nil, specError(seen["volumes"], "volumes", "%s is mounted twice", m.Target)
		}
		targets[m.Target] = 1
	}
	return s, nil
}

// yamlError turns the YAML syntax error err of src into an EINVALID
// *shared.SpecError at the line of the text that is wrong. yaml.v3 names
// the line where the enclosing block or flow begins, when it knows one,
// rather than the line it stopped at (and counts the lines of its parser's
// errors from 0), so its line is only where the search starts: the wrong
// line is the first one at which the text up to it fails with the same
// error. A block cut at the end of a line is valid YAML; an unclosed
// quote or bracket fails at the line it opens on, which is where to look.
func yamlError(src string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	from, what := 1, msg
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		from, _ = strconv.Atoi(m[1])
		what = m[2]
	}
	if line := failingLine(src, from, msg); line > 0 {
		return atLine(line, 0, what)
	}
	return shared.Errorf(shared.EINVALID, "invalid YAML: %s", msg)
}

// maxSyntaxSearch bounds the YAML that failingLine parses in all.
const maxSyntaxSearch = 16 << 20

// failingLine returns the first line, from line from on, such that the
// lines of src up to it fail to parse with the error text msg; 0 when
// none does within maxSyntaxSearch bytes of parsing.
func failingLine(src string, from int, msg string) int {
	lines := strings.SplitAfter(src, "\n")
	end, budget := 0, maxSyntaxSearch
	for i := range lines {
		end += len(lines[i])
		if i+1 < from {
			continue
		}
		if budget -= end; budget < 0 {
			return 0
		}
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(src[:end]), &n); err != nil && strings.TrimPrefix(err.Error(), "yaml: ") == msg {
			return i + 1
		}
	}
	return 0
}

func scalarString(n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", specError(n, key, "must be a single value")
	}
	return n.Value, nil
}

func scalarBool(n *yaml.Node, key string) (bool, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, nil
		}
	}
	return false, specError(n, key, "must be true or false")
}

// parseList decodes a sequence of scalars and parses each with parse.
func parseList[T any](n *yaml.Node, key string, parse func(*yaml.Node, string) (T, error)) ([]T, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, specError(n, key, "must be a list")
	}
	out := make([]T, 0, len(n.Content))
	for _, item := range n.Content {
		if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
			return nil, specError(item, key, "each entry must be a single value")
		}
		v, err := parse(item, item.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func parseAuth(n *yaml.Node) (*RegistryAuth, error) {
	if n.Kind != yaml.MappingNode {
		return nil, specError(n, "auth", "must be a mapping with username and password")
	}
	a := &RegistryAuth{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		s, err := scalarString(v, "auth."+k.Value)
		if err != nil {
			return nil, err
		}
		switch k.Value {
		case "username":
			a.Username = s
		case "password":
			a.Password = s
		default:
			return nil, specError(k, "auth", "unknown key %q (known: username, password)", k.Value)
		}
	}
	if a.Username == "" {
		return nil, specError(n, "auth", "username is missing")
	}
	return a, nil
}

// parsePort parses "[ip:]host_port:container_port[/protocol]"; an IPv6
// address is written in brackets.
func parsePort(n *yaml.Node, raw string) (PortMapping, error) {
	bad := func(why string) (PortMapping, error) {
		return PortMapping{}, specError(n, "ports", "%q is not [ip:]host_port:container_port[/protocol]: %s", raw, why)
	}
	p := PortMapping{Protocol: "tcp"}
	rest := raw
	if base, proto, ok := strings.Cut(rest, "/"); ok {
		switch proto {
		case "tcp", "udp", "sctp":
			p.Protocol = proto
		default:
			return bad("protocol must be tcp, udp or sctp")
		}
		rest = base
	}
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]:")
		if end < 0 {
			return bad("an IPv6 address must be followed by :host_port")
		}
		p.HostIP = rest[1:end]
		rest = rest[end+2:]
		if _, err := netip.ParseAddr(p.HostIP); err != nil || !strings.Contains(p.HostIP, ":") {
			return bad(fmt.Sprintf("%q is not an IPv6 address", p.HostIP))
		}
	}
	parts := strings.Split(rest, ":")
	switch {
	case len(parts) == 3 && p.HostIP == "":
		p.HostIP = parts[0]
		if _, err := netip.ParseAddr(p.HostIP); err != nil {
			return bad(fmt.Sprintf("%q is not an IP address", p.HostIP))
		}
		parts = parts[1:]
	case len(parts) != 2:
		return bad("expected host and container port separated by ':'")
	}
	hp, err := parsePortNumber(parts[0])
	if err != nil {
		return bad("host port " + err.Error())
	}
	cp, err := parsePortNumber(parts[1])
	if err != nil {
		return bad("container port " + err.Error())
	}
	p.HostPort, p.ContainerPort = hp, cp
	return p, nil
}

func parsePortNumber(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a number from 1 to 65535", s)
	}
	return uint16(n), nil
}

// parseMount parses "source:/target[:ro|:rw]".
func parseMount(n *yaml.Node, raw string) (Mount, error) {
	parts := strings.Split(raw, ":")
	m := Mount{}
	switch len(parts) {
	case 3:
		switch parts[2] {
		case "ro":
			m.ReadOnly = true
		case "rw":
		default:
			return m, specError(n, "volumes", "%q: the mode after the target must be ro or rw", raw)
		}
	case 2:
	default:
		return m, specError(n, "volumes", "%q is not name:/path or /host/path:/path, optionally followed by :ro", raw)
	}
	m.Source, m.Target = parts[0], parts[1]
	if !path.IsAbs(m.Target) || path.Clean(m.Target) == "/" {
		return m, specError(n, "volumes", "%q: the target %q must be an absolute path other than /", raw, m.Target)
	}
	m.Target = path.Clean(m.Target)
	switch {
	case path.IsAbs(m.Source):
		m.Bind = true
		m.Source = path.Clean(m.Source)
	case volumeNameRe.MatchString(m.Source):
	default:
		return m, specError(n, "volumes", "%q: the source %q must be a volume name (letters, digits, '_', '.', '-') or an absolute host path", raw, m.Source)
	}
	return m, nil
}

// parseDevice parses "/dev/host[:/dev/container[:perms]]".
func parseDevice(n *yaml.Node, raw string) (Device, error) {
	parts := strings.Split(raw, ":")
	if len(parts) > 3 {
		return Device{}, specError(n, "devices", "%q is not /dev/host:/dev/container[:rwm]", raw)
	}
	d := Device{HostPath: parts[0], ContainerPath: parts[0], Permissions: "rwm"}
	if len(parts) > 1 {
		d.ContainerPath = parts[1]
	}
	if len(parts) > 2 {
		d.Permissions = parts[2]
		if d.Permissions == "" || strings.Trim(d.Permissions, "rwm") != "" {
			return Device{}, specError(n, "devices", "%q: permissions must combine r, w and m", raw)
		}
	}
	if !path.IsAbs(d.HostPath) || !path.IsAbs(d.ContainerPath) {
		return Device{}, specError(n, "devices", "%q: both device paths must be absolute", raw)
	}
	return d, nil
}

func parseCPUs(n *yaml.Node) (float64, error) {
	if n.Kind == yaml.ScalarNode {
		f, err := strconv.ParseFloat(n.Value, 64)
		if err == nil && f > 0 && f <= 1024 && !math.IsNaN(f) {
			return f, nil
		}
	}
	return 0, specError(n, "cpus", "%q is not a number of CPUs greater than 0, such as 0.5 or 2", n.Value)
}

func parseMemory(n *yaml.Node) (int64, error) {
	if n.Kind == yaml.ScalarNode {
		b, err := units.RAMInBytes(n.Value)
		if err == nil && b >= MinMemory {
			return b, nil
		}
		if err == nil {
			return 0, specError(n, "memory", "%q is below the minimum of 6m", n.Value)
		}
	}
	return 0, specError(n, "memory", "%q is not a size such as 512m or 2g", n.Value)
}

// ParseContainerVolumes parses the volume definition of a container
// template, in the predecessor's shape: a mapping of volume names (values are
// ignored) under "volumes", or a list of names. It returns the names, each
// a volume of the space like a named source in the spec's volumes.
func ParseContainerVolumes(src string) ([]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return nil, yamlError(src, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, specError(root, "", "the volume definition must be a mapping with the key volumes")
	}
	var names []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "volumes" {
			return nil, specError(k, "", "unknown key %q (known: volumes)", k.Value)
		}
		var items []*yaml.Node
		switch v.Kind {
		case yaml.MappingNode:
			for j := 0; j < len(v.Content); j += 2 {
				items = append(items, v.Content[j])
			}
		case yaml.SequenceNode:
			items = v.Content
		case yaml.ScalarNode:
			if v.Tag != "!!null" {
				return nil, specError(v, "volumes", "must be a mapping or a list of volume names")
			}
		default:
			return nil, specError(v, "volumes", "must be a mapping or a list of volume names")
		}
		for _, it := range items {
			if it.Kind != yaml.ScalarNode || !volumeNameRe.MatchString(it.Value) {
				return nil, specError(it, "volumes", "%q is not a volume name (letters, digits, '_', '.', '-')", it.Value)
			}
			names = append(names, it.Value)
		}
	}
	return names, nil
}

// ValidateTemplate checks a template before it is saved. For a container
// template it renders the spec and the volume definition with placeholder
// data in which every .var is defined, then validates the container spec;
// for a nomad template it checks that the spec renders and is a job in
// well-formed HCL (or JSON), whose meaning the Nomad driver has Nomad check,
// and that its volume definition renders and is well-formed YAML;
// a manual template needs nothing. Errors are EINVALID and name the
// template and the line; one at a place in the spec or volumes is a
// *shared.SpecError with its Field, line and column. The lines are those
// of the rendered text, which are the template's own unless a ${{ }}
// action spans lines or renders to several.
func ValidateTemplate(t *shared.Template) error {
	if t == nil {
		return shared.Errorf(shared.EINVALID, "template is missing")
	}
	label := fmt.Sprintf("template %q", t.Name)
	var check func(string) error
	switch t.Kind {
	case shared.TemplateManual:
		return nil
	case shared.TemplateContainer:
		check = func(spec string) error {
			if _, err := ParseContainerSpec(spec); err != nil {
				return err
			}
			return foldedItem(spec)
		}
	case shared.TemplateNomad:
		check = func(spec string) error {
			if strings.TrimSpace(spec) == "" {
				return atLine(1, 0, "the job spec is empty")
			}
			return CheckJobSyntax(spec)
		}
	default:
		return shared.Errorf(shared.EINVALID, "%s: kind %q is not container, nomad or manual", label, t.Kind)
	}
	if err := checkField("spec", label, t.Spec, check); err != nil {
		return err
	}
	if strings.TrimSpace(t.Volumes) == "" {
		return nil
	}
	vols := func(v string) error { // a nomad template's volumes: YAML, which the Nomad driver reads
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(v), &n); err != nil {
			return yamlError(v, err)
		}
		return nil
	}
	if t.Kind == shared.TemplateContainer {
		vols = func(v string) error { _, err := ParseContainerVolumes(v); return err }
	}
	return checkField("volumes", label+" volumes", t.Volumes, vols)
}

// foldedItem refuses, in a container spec that parses, a list item whose
// plain text runs on to a line that starts with "- ": YAML reads a "- "
// indented deeper than the item above it as more of that item's text
// ("- A=1" then "   - B=2" is the one item "A=1 - B=2"), where two items
// were meant. Only the check of a template refuses it, so that a spec
// saved before still starts.
func foldedItem(src string) error {
	var doc yaml.Node
	if yaml.Unmarshal([]byte(src), &doc) != nil {
		return nil
	}
	lines := strings.Split(src, "\n")
	var walk func(n *yaml.Node, key string) error
	walk = func(n *yaml.Node, key string) error {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if err := walk(c, key); err != nil {
					return err
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if err := walk(n.Content[i+1], n.Content[i].Value); err != nil {
					return err
				}
			}
		case yaml.SequenceNode:
			for _, item := range n.Content {
				if item.Kind != yaml.ScalarNode {
					if err := walk(item, key); err != nil {
						return err
					}
					continue
				}
				if line, column := continuedAt(lines, item); line > 0 {
					return atLine(line, column, fmt.Sprintf(`%s: this "- " is indented deeper than the list item on line %d, so it is read as more of that item (%q), not as an item of its own: line it up with the items above it`, key, item.Line, item.Value))
				}
			}
		}
		return nil
	}
	return walk(&doc, "")
}

// continuedAt returns the line and column (from 1) of the "- " that the
// plain scalar n, an item of a list, runs on to; 0 when it does not.
func continuedAt(lines []string, n *yaml.Node) (int, int) {
	if n.Style != 0 || n.Line < 1 || n.Line > len(lines) || n.Column < 1 {
		return 0, 0
	}
	first := []rune(lines[n.Line-1])
	if n.Column-1 > len(first) {
		return 0, 0
	}
	rest := string(first[n.Column-1:])
	if i := strings.Index(rest, " #"); i >= 0 {
		rest = rest[:i]
	}
	if strings.TrimSpace(rest) == n.Value {
		return 0, 0
	}
	for i := n.Line; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" {
			continue
		}
		if t == "-" || strings.HasPrefix(t, "- ") {
			return i + 1, len(lines[i]) - len(strings.TrimLeft(lines[i], " ")) + 1
		}
		return 0, 0
	}
	return 0, 0
}

// checkField renders src, the template's field, and checks the result
// with check; its errors name label and, if they have a place, field.
func checkField(field, label, src string, check func(string) error) error {
	out, err := renderDryRun(label, src)
	if err == nil {
		if err = check(out); err != nil {
			err = prefixError(label, err)
		}
	}
	var se *shared.SpecError
	if errors.As(err, &se) {
		se.Field = field
	}
	return err
}

// prefixError puts label before the message of an EINVALID error:
// `template "dev" line 4: ports: ...`, keeping the place of a
// *shared.SpecError.
func prefixError(label string, err error) error {
	msg := shared.Errorf(shared.ErrorCode(err), "%s %s", label, shared.ErrorMessage(err))
	var se *shared.SpecError
	if errors.As(err, &se) {
		return &shared.SpecError{Line: se.Line, Column: se.Column, Err: msg}
	}
	return msg
}
