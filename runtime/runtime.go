package runtime

import (
	"context"
	"time"
)

// Runtime runs the workloads of spaces: a container on Docker or Podman, a
// job on Nomad. A space has at most one workload, found by the space id (the
// driver names and labels everything it creates with it), so the calls are
// keyed by space id and a driver keeps no state of its own: after a restart
// of the leaf it finds everything again.
//
// Every method takes a context and returns when it is done; callers put a
// timeout on it. Implementations are safe for concurrent use for different
// spaces; the Manager serialises calls for one space.
//
// Errors are *shared.Error values with a message written for the user that
// carries the runtime's own reason:
//   - EUNAVAILABLE when the engine, or the registry of an image, cannot be
//     reached or did not answer in time,
//   - EINVALID when the spec is malformed or the engine refuses it,
//   - ENOTFOUND when the image (or another thing the spec names) does not exist,
//   - ECONFLICT when something not made by knot holds a name knot needs,
//   - EINTERNAL for anything else.
type Runtime interface {
	// Name names the runtime in messages: "docker", "podman" or "nomad".
	Name() string

	// EnsureVolumes creates the volumes w needs that do not exist yet. It
	// never removes or changes a volume, so data survives stops, starts and
	// template edits.
	EnsureVolumes(ctx context.Context, w *Workload) error

	// Start replaces any workload the space has with a new one made from w
	// and starts it, pulling the image first when the engine does not have
	// it. It returns once the workload runs, with its status. When Start
	// fails it leaves no workload behind.
	Start(ctx context.Context, w *Workload) (*Status, error)

	// Stop stops the workload of the space, giving its processes grace to
	// exit before they are killed. The workload stays until Remove. Stopping
	// a space that has no workload, or a stopped one, does nothing.
	Stop(ctx context.Context, spaceID string, grace time.Duration) error

	// Remove removes the workload of the space, stopping it first if needed.
	// Volumes stay. Removing a space that has no workload does nothing.
	Remove(ctx context.Context, spaceID string) error

	// Inspect reports the workload of the space; a space without one has
	// State StateMissing and no error.
	Inspect(ctx context.Context, spaceID string) (*Status, error)

	// List reports every workload this runtime runs for this server's
	// location, in no particular order.
	List(ctx context.Context) ([]*Status, error)

	// RemoveVolumes removes every volume of the space. It is called only
	// when the space is deleted. A space without volumes is not an error.
	RemoveVolumes(ctx context.Context, spaceID string) error
}

// Execer is implemented by runtimes that can run a command inside a running
// workload and collect its output.
type Execer interface {
	// Exec runs cmd in the workload of the space and returns its combined
	// output and exit code. It returns ENOTFOUND when the space has no
	// running workload.
	Exec(ctx context.Context, spaceID string, cmd []string) (output string, exitCode int, err error)
}

// Workload is what a runtime needs to run a space.
type Workload struct {
	SpaceID   string
	SpaceName string // for names and messages only
	UserName  string // for names and messages only

	// Spec is the rendered spec of the template: a container spec for
	// Docker and Podman, an HCL job for Nomad. Volumes is the rendered
	// volume definition, if any.
	Spec    string
	Volumes string

	// Hash is the template hash the workload is made from; drivers keep it
	// with the workload and report it in Status.
	Hash string

	// Env is added to the workload's environment and overrides the spec's
	// variables of the same name: the agent's endpoint, space id and token.
	Env map[string]string

	// Logf receives progress lines (image pulls and the like). Nil discards
	// them.
	Logf func(format string, args ...any)
}

// Log sends one progress line to w.Logf, if set.
func (w *Workload) Log(format string, args ...any) {
	if w.Logf != nil {
		w.Logf(format, args...)
	}
}

// The agent's environment, set in every workload.
const (
	EnvAgentEndpoint = "KNOT_AGENT_ENDPOINT" // where the agent finds its leaf (host:port or srv+name)
	EnvSpaceID       = "KNOT_SPACE_ID"       // the id of the space
	EnvAgentToken    = "KNOT_AGENT_TOKEN"    // the per-space secret the agent registers with
)

// State is what a runtime reports about a space's workload.
type State string

const (
	StateRunning State = "running" // the workload runs
	StateExited  State = "exited"  // the workload exists but does not run; see ExitCode
	StateMissing State = "missing" // there is no workload for the space
)

// Status is the observed state of one space's workload.
type Status struct {
	SpaceID   string
	State     State
	ExitCode  int       // for StateExited
	Reason    string    // what the runtime says about the state, e.g. "exited with code 137 (out of memory)"
	ID        string    // the container or job id
	Hash      string    // the template hash the workload was made from
	StartedAt time.Time // when the workload last started; zero if unknown
}

// OutputReader is implemented by runtimes that can read what the workload
// of a space printed itself: a container's standard output and error, the
// task logs of a Nomad allocation. knot reads it to show a person why a
// space's agent does not connect.
type OutputReader interface {
	// Output returns the last lines, at most max, that the workload of the
	// space printed, oldest first. It returns ENOTFOUND when the space has
	// no workload.
	Output(ctx context.Context, spaceID string, max int) ([]OutputLine, error)
}

// OutputLine is one line a workload printed.
type OutputLine struct {
	At     time.Time // when it was printed; zero when the runtime does not say
	Source string    // where it was printed: "stdout", "stderr", or "task NAME stderr"
	Text   string
}
