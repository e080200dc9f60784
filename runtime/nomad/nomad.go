// Package nomad runs spaces as Nomad jobs through Nomad's HTTP API.
//
// A template's spec is a Nomad job in HCL, rendered already. Nomad itself
// parses it (PUT /v1/jobs/parse), so every feature of the job specification
// is available and errors carry Nomad's own message. Before registering the
// job the driver
//   - keeps the job's id (a job that names none gets knot-<space id>) and its
//     namespace (none means Options.Namespace);
//   - adds the meta keys knot_space_id, knot_hash and, when the driver has a
//     location, knot_location, which is how it finds the job again: it keeps
//     no state, and a restarted leaf finds all its jobs;
//   - adds the workload's environment to every task.
//
// A job id is unique within a namespace, so the id in the template must be
// unique per space, e.g. job "${{ .space.id }}" or
// job "${{ .user.username }}-${{ .space.name }}". Start refuses, with
// ECONFLICT, a job id held by a job that knot did not make for the space.
//
// Start returns once an allocation of the new job version runs, or fails
// with the reason from the allocation's task events ("Driver Failure: ...",
// a lost allocation, ...). Stop deregisters the job without purging it, so it
// stays visible as stopped; Remove purges it.
//
// CSI volumes are created from the template's volume definition (see
// EnsureVolumes) and deleted only when the space is deleted. Which volumes
// belong to a space is read from their ids: RemoveVolumes deletes the CSI
// volumes whose id contains the space id, so per-space volumes are named
// with it, e.g. id: "home-${{ .space.id }}". A volume whose id does not
// contain a space id is shared and never deleted by knot.
//
// The driver needs Nomad 1.4 or later (job lists with meta).
package nomad

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
)

// Meta keys set on every job knot registers.
const (
	MetaSpaceID  = "knot_space_id" // the space's id
	MetaHash     = "knot_hash"     // the template hash the job was made from
	MetaLocation = "knot_location" // the location of the leaf that made it
	MetaSpace    = "knot_space"    // the space's name, for people reading `nomad job status`
	MetaUser     = "knot_user"     // the owner's username, likewise
)

// DefaultNamespace is the namespace of jobs and volumes that name none when
// Options.Namespace is empty.
const DefaultNamespace = "default"

// Options configure a Driver.
type Options struct {
	// Addr is Nomad's HTTP API address, e.g. "http://127.0.0.1:4646"
	// (server.nomad.addr). Empty means the Nomad API client's defaults:
	// NOMAD_ADDR (and NOMAD_TOKEN, NOMAD_REGION, NOMAD_CACERT, ...) or
	// http://127.0.0.1:4646. With Addr set no environment variable is read.
	Addr string
	// Token is the ACL token sent as X-Nomad-Token (server.nomad.token).
	// Empty sends none, or NOMAD_TOKEN when Addr is empty too.
	Token string
	// Namespace is the namespace of jobs and volumes whose definition names
	// none; empty means "default".
	Namespace string
	// Region is sent with every request; empty means the agent's region.
	Region string
	// Location is recorded on every job; List reports only jobs of this
	// location. Empty records nothing and lists every knot job.
	Location string
	// Logger receives the driver's log; nil means slog.Default().
	Logger *slog.Logger
}

// Driver is a runtime.Runtime on a Nomad cluster. It is safe for concurrent
// use.
type Driver struct {
	cli       *nomadapi.Client
	addr      string
	namespace string
	location  string
	log       *slog.Logger
}

var _ runtime.Runtime = (*Driver)(nil)

// New returns a driver for the Nomad cluster at opts.Addr. It does not
// contact Nomad; see Ping.
func New(opts Options) (*Driver, error) {
	var cfg *nomadapi.Config
	if opts.Addr == "" {
		cfg = nomadapi.DefaultConfig()
	} else {
		u, err := url.Parse(opts.Addr)
		if err != nil || u.Host == "" && u.Scheme != "unix" {
			return nil, fmt.Errorf("nomad: address %q is not a URL such as http://127.0.0.1:4646", opts.Addr)
		}
		cfg = &nomadapi.Config{Address: opts.Addr, TLSConfig: &nomadapi.TLSConfig{}}
	}
	if opts.Token != "" {
		cfg.SecretID = opts.Token
	}
	if opts.Region != "" {
		cfg.Region = opts.Region
	}
	// Every request names its namespace itself.
	cfg.Namespace = ""
	cli, err := nomadapi.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("nomad: %w", err)
	}
	ns := opts.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Driver{
		cli:       cli,
		addr:      cli.Address(),
		namespace: ns,
		location:  opts.Location,
		log:       log.With("runtime", "nomad"),
	}, nil
}

// Name returns "nomad".
func (d *Driver) Name() string { return "nomad" }

// Addr returns the address of the Nomad API the driver talks to.
func (d *Driver) Addr() string { return d.addr }

// Close releases the driver's idle connections.
func (d *Driver) Close() error {
	d.cli.Close()
	return nil
}

// Ping checks that Nomad answers and has a leader; EUNAVAILABLE if not.
func (d *Driver) Ping(ctx context.Context) error {
	var leader string
	if _, err := d.cli.Raw().Query("/v1/status/leader", &leader, d.query(ctx, "")); err != nil {
		return d.errorf(err, "asking for the leader")
	}
	if leader == "" {
		return shared.Errorf(shared.EUNAVAILABLE, "nomad at %s has no leader", d.addr)
	}
	return nil
}

func (d *Driver) query(ctx context.Context, namespace string) *nomadapi.QueryOptions {
	return (&nomadapi.QueryOptions{Namespace: namespace}).WithContext(ctx)
}

func (d *Driver) write(ctx context.Context, namespace string) *nomadapi.WriteOptions {
	return (&nomadapi.WriteOptions{Namespace: namespace}).WithContext(ctx)
}

// errorf turns an error of the Nomad API client into a *shared.Error whose
// message says what was being done and what Nomad said.
func (d *Driver) errorf(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	var re nomadapi.UnexpectedResponseError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return shared.Wrap(shared.EUNAVAILABLE, err, "nomad at %s did not answer in time (%s)", d.addr, what)
	case errors.Is(err, context.Canceled):
		return shared.Wrap(shared.EUNAVAILABLE, err, "nomad: %s was cancelled", what)
	case errors.As(err, &re) && re.HasStatusCode():
		msg := responseMessage(re)
		switch code := re.StatusCode(); {
		case code == 400:
			return shared.Wrap(shared.EINVALID, err, "nomad refused %s: %s", what, msg)
		case code == 401 || code == 403:
			return shared.Wrap(shared.EUNAVAILABLE, err, "nomad refused %s: %s (check the ACL token, server.nomad.token)", what, msg)
		case code == 404:
			return shared.Wrap(shared.ENOTFOUND, err, "nomad: %s: %s", what, msg)
		case code == 409:
			return shared.Wrap(shared.ECONFLICT, err, "nomad refused %s: %s", what, msg)
		case code == 429 || code >= 500:
			return shared.Wrap(shared.EUNAVAILABLE, err, "nomad failed %s: %d %s", what, code, msg)
		default:
			return shared.Wrap(shared.EINTERNAL, err, "nomad: %s: %d %s", what, code, msg)
		}
	case unreachable(err):
		return shared.Wrap(shared.EUNAVAILABLE, err, "cannot reach nomad at %s (%s): %s", d.addr, what, rootCause(err))
	}
	return shared.Wrap(shared.EINTERNAL, err, "nomad: %s: %v", what, err)
}

// responseMessage is what Nomad said in an error response.
func responseMessage(re nomadapi.UnexpectedResponseError) string {
	if msg := strings.TrimSpace(re.Body()); msg != "" {
		return msg
	}
	return re.StatusText()
}

func unreachable(err error) bool {
	var ne net.Error
	var ue *url.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &ue) || errors.As(err, &oe)
}

// rootCause is the innermost error of a transport failure, e.g.
// "connect: connection refused".
func rootCause(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err.Error()
	}
	return err.Error()
}

func isNotFound(err error) bool {
	var re nomadapi.UnexpectedResponseError
	return errors.As(err, &re) && re.StatusCode() == 404
}
