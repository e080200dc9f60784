package runtime_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
)

func TestParseContainerSpecReadsEveryKey(t *testing.T) {
	spec, err := runtime.ParseContainerSpec(`
image: registry.example.com/dev:1.2
auth:
  username: robot
  password: "secret: yes"
ports:
  - "127.0.0.1:8080:80/tcp"
  - "2222:22"
  - "[::1]:5353:53/udp"
volumes:
  - home:/home/ann
  - /srv/shared:/shared:ro
environment:
  - TZ=Europe/London
  - EMPTY=
command: ["/bin/start", "--verbose"]
network: bridge
privileged: true
cap_add: [net_admin, CAP_SYS_PTRACE]
cap_drop: [MKNOD]
devices: ["/dev/fuse", "/dev/kvm:/dev/kvm:rw"]
hostname: dev-box
container_name: ann-dev
cpus: 1.5
memory: 2g
`)
	if err != nil {
		t.Fatal(err)
	}
	want := &runtime.ContainerSpec{
		Image: "registry.example.com/dev:1.2",
		Auth:  &runtime.RegistryAuth{Username: "robot", Password: "secret: yes"},
		Ports: []runtime.PortMapping{
			{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
			{HostPort: 2222, ContainerPort: 22, Protocol: "tcp"},
			{HostIP: "::1", HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
		},
		Volumes: []runtime.Mount{
			{Source: "home", Target: "/home/ann"},
			{Source: "/srv/shared", Target: "/shared", ReadOnly: true, Bind: true},
		},
		Environment:   []string{"TZ=Europe/London", "EMPTY="},
		Command:       []string{"/bin/start", "--verbose"},
		Network:       "bridge",
		Privileged:    true,
		CapAdd:        []string{"NET_ADMIN", "CAP_SYS_PTRACE"},
		CapDrop:       []string{"MKNOD"},
		Devices:       []runtime.Device{{HostPath: "/dev/fuse", ContainerPath: "/dev/fuse", Permissions: "rwm"}, {HostPath: "/dev/kvm", ContainerPath: "/dev/kvm", Permissions: "rw"}},
		Hostname:      "dev-box",
		ContainerName: "ann-dev",
		CPUs:          1.5,
		Memory:        2 << 30,
	}
	if !reflect.DeepEqual(spec, want) {
		t.Fatalf("got  %+v\nwant %+v", spec, want)
	}
	if got := spec.VolumeNames(); !reflect.DeepEqual(got, []string{"home"}) {
		t.Fatalf("VolumeNames = %v; want [home]", got)
	}
}

func TestParseContainerSpecRefusesNamingLineAndKey(t *testing.T) {
	for _, tt := range []struct {
		name, spec, want string
	}{
		{"MissingImage", "network: host\n", `line 1: image: missing`},
		{"EmptyImage", "image: \"\"\n", `line 1: image: "" is not an image reference`},
		{"EmptySpec", "", `line 1: the container spec is empty`},
		{"NotAMapping", "- image: x\n", `line 1: the container spec must be a mapping`},
		{"UnknownKey", "image: x\nportz: []\n", `line 2: unknown key "portz"`},
		{"DuplicateKey", "image: x\nnetwork: host\nnetwork: none\n", `line 3: network: set twice (first on line 2)`},
		{"YAMLSyntax", "image: x\nports: [\"80:80\"\n", `line 2: did not find expected ',' or ']'`},
		{"PortsNotList", "image: x\nports: \"80:80\"\n", `line 2: ports: must be a list`},
		{"PortTooManyParts", "image: x\nports:\n  - \"1:2:3:4\"\n", `line 3: ports: "1:2:3:4" is not [ip:]host_port:container_port[/protocol]`},
		{"PortOutOfRange", "image: x\nports:\n  - \"70000:80\"\n", `line 3: ports: "70000:80" is not [ip:]host_port:container_port[/protocol]: host port "70000" is not a number from 1 to 65535`},
		{"PortZero", "image: x\nports: [\"8080:0\"]\n", `container port "0" is not a number from 1 to 65535`},
		{"PortBadProtocol", "image: x\nports: [\"80:80/http\"]\n", `protocol must be tcp, udp or sctp`},
		{"PortBadIP", "image: x\nports: [\"localhost:80:80\"]\n", `"localhost" is not an IP address`},
		{"PortOnlyOne", "image: x\nports: [\"80\"]\n", `expected host and container port separated by ':'`},
		{"VolumeRelativeTarget", "image: x\nvolumes: [\"home:home\"]\n", `line 2: volumes: "home:home": the target "home" must be an absolute path`},
		{"VolumeRootTarget", "image: x\nvolumes: [\"home:/\"]\n", `must be an absolute path other than /`},
		{"VolumeBadName", "image: x\nvolumes: [\"my home:/home\"]\n", `the source "my home" must be a volume name`},
		{"VolumeBadMode", "image: x\nvolumes: [\"home:/home:rx\"]\n", `the mode after the target must be ro or rw`},
		{"VolumeTargetTwice", "image: x\nvolumes: [\"a:/home\", \"b:/home/\"]\n", `line 2: volumes: /home is mounted twice`},
		{"EnvWithoutValue", "image: x\nenvironment:\n  - TZ\n", `line 3: environment: "TZ" is not KEY=value`},
		{"EnvMapping", "image: x\nenvironment:\n  TZ: UTC\n", `line 3: environment: must be a list`},
		{"PrivilegedNotBool", "image: x\nprivileged: maybe\n", `line 2: privileged: must be true or false`},
		{"BadCapability", "image: x\ncap_add: [\"net admin\"]\n", `line 2: cap_add: "net admin" is not a capability`},
		{"DeviceRelative", "image: x\ndevices: [\"fuse\"]\n", `line 2: devices: "fuse": both device paths must be absolute`},
		{"BadHostname", "image: x\nhostname: -dev\n", `line 2: hostname: "-dev" is not a host name`},
		{"HostnameWithHostNetwork", "image: x\nnetwork: host\nhostname: dev\n", `line 3: hostname: cannot be set with network: host (line 2)`},
		{"BadContainerName", "image: x\ncontainer_name: \"a b\"\n", `line 2: container_name: "a b" is not a container name`},
		{"CPUsZero", "image: x\ncpus: 0\n", `line 2: cpus: "0" is not a number of CPUs greater than 0`},
		{"CPUsWord", "image: x\ncpus: many\n", `line 2: cpus: "many"`},
		{"MemoryWord", "image: x\nmemory: lots\n", `line 2: memory: "lots" is not a size such as 512m or 2g`},
		{"MemoryTooSmall", "image: x\nmemory: 1m\n", `line 2: memory: "1m" is below the minimum of 6m`},
		{"AuthUnknownKey", "image: x\nauth:\n  user: a\n", `line 3: auth: unknown key "user"`},
		{"AuthNoUsername", "image: x\nauth:\n  password: a\n", `auth: username is missing`},
		{"ListEntryNotScalar", "image: x\ncommand:\n  - [a]\n", `line 3: command: each entry must be a single value`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runtime.ParseContainerSpec(tt.spec)
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.spec)
			}
			if shared.ErrorCode(err) != shared.EINVALID {
				t.Fatalf("code %q; want EINVALID", shared.ErrorCode(err))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q; want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseContainerVolumes(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      []string
		wantErr   string
	}{
		{"PredecessorMapping", "volumes:\n  home:\n  cache:\n", []string{"home", "cache"}, ""},
		{"List", "volumes: [home, cache]\n", []string{"home", "cache"}, ""},
		{"Empty", "", nil, ""},
		{"NoVolumes", "volumes:\n", nil, ""},
		{"UnknownKey", "volume:\n  home:\n", nil, `line 1: unknown key "volume"`},
		{"BadName", "volumes:\n  \"my home\":\n", nil, `line 2: volumes: "my home" is not a volume name`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := runtime.ParseContainerVolumes(tt.src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestValidateTemplate(t *testing.T) {
	for _, tt := range []struct {
		name    string
		tmpl    *shared.Template
		wantErr string
	}{
		{"ContainerWithAnyVariableIsAccepted", &shared.Template{Name: "dev", Kind: shared.TemplateContainer,
			Spec: "image: ${{ .var.registry }}/dev:${{ .var.tag }}\nports: [\"${{ .var.port }}:80\"]\nmemory: ${{ .var.mem }}g\nenvironment:\n  - X=${{ index .var \"other\" }}\n  - Y=${{ $.var.third }}\n"}, ""},
		{"ContainerVariableThroughAVariableIsAccepted", &shared.Template{Name: "dev", Kind: shared.TemplateContainer,
			Spec: "image: x\nenvironment:\n  - X=${{ $v := .var }}${{ index $v \"other\" }}\n"}, ""},
		{"ContainerUsingEveryFieldIsAccepted", &shared.Template{Name: "dev", Kind: shared.TemplateContainer,
			Spec: "image: x\nenvironment:\n  - A=${{ .space.id }}${{ .space.name }}${{ .user.id }}${{ .user.username }}${{ .user.email }}${{ .user.timezone }}${{ .user.service_password }}\n  - B=${{ .template.id }}${{ .template.name }}${{ .server.url }}${{ .server.agent_endpoint }}${{ .server.wildcard_domain }}${{ .server.location }}${{ .server.timezone }}${{ .nomad.dc }}${{ .nomad.region }}\n"}, ""},
		{"ContainerFoldedTextIsAccepted", &shared.Template{Name: "dev", Kind: shared.TemplateContainer,
			Spec: "image: x\ncommand:\n  - sh\n  - -c\n  - echo a\n    b - c # said\n  - 'q' # quoted\nenvironment:\n  - A=1 # one\n  - B=x - y\n"}, ""},
		{"ContainerFoldedItemIsRefused", &shared.Template{Name: "dev", Kind: shared.TemplateContainer, Spec: "image: x\nenvironment:\n  - EDITOR=vi\n   - BAD=1\n"},
			`template "dev" line 4: environment: this "- " is indented deeper`},
		{"ManualNeedsNothing", &shared.Template{Name: "byo", Kind: shared.TemplateManual}, ""},
		{"NomadRenders", &shared.Template{Name: "job", Kind: shared.TemplateNomad, Spec: "job \"${{ .space.name }}\" {}\n"}, ""},
		{"ContainerSyntaxError", &shared.Template{Name: "dev", Kind: shared.TemplateContainer, Spec: "image: x\nhostname: ${{ .space.name \n"},
			`template "dev" line 3: unclosed action started at line 2`},
		{"ContainerUnknownField", &shared.Template{Name: "dev", Kind: shared.TemplateContainer, Spec: "image: x\n\nhostname: ${{ .user.nickname }}\n"},
			`template "dev" line 3: .user.nickname is not defined`},
		{"ContainerBadSpec", &shared.Template{Name: "dev", Kind: shared.TemplateContainer, Spec: "image: x\nports:\n  - \"${{ .var.port }}\"\n"},
			`template "dev" line 3: ports: "1" is not [ip:]host_port:container_port[/protocol]`},
		{"ContainerMissingImage", &shared.Template{Name: "dev", Kind: shared.TemplateContainer, Spec: "network: host\n"},
			`template "dev" line 1: image: missing`},
		{"ContainerBadVolumes", &shared.Template{Name: "dev", Kind: shared.TemplateContainer, Spec: "image: x\n", Volumes: "volumes:\n  - \"a b\"\n"},
			`template "dev" volumes line 2: volumes: "a b" is not a volume name`},
		{"ContainerVolumesSyntax", &shared.Template{Name: "dev", Kind: shared.TemplateContainer, Spec: "image: x\n", Volumes: "volumes:\n  ${{ end }}\n"},
			`template "dev" volumes line 2: unexpected {{end}}`},
		{"NomadEmpty", &shared.Template{Name: "job", Kind: shared.TemplateNomad, Spec: "${{ if false }}job${{ end }}\n  \n"},
			`template "job" line 1: the job spec is empty`},
		{"NomadUnknownField", &shared.Template{Name: "job", Kind: shared.TemplateNomad, Spec: "job \"${{ .space.title }}\" {}\n"},
			`template "job" line 1: .space.title is not defined`},
		{"UnknownKind", &shared.Template{Name: "x", Kind: "vm"}, `kind "vm" is not container, nomad or manual`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := runtime.ValidateTemplate(tt.tmpl)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || shared.ErrorCode(err) != shared.EINVALID || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v; want EINVALID containing %q", err, tt.wantErr)
			}
		})
	}
}
