package docker

import (
	"errors"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
)

// What engines say when a pull fails, and what a person reads of it. The
// unreachable registry is also checked against the real engines (the
// runtimetest suite's MissingImageFailsFastWithReason).
func TestPullErrorSaysWhyInWords(t *testing.T) {
	for _, tt := range []struct {
		name, ref, detail string
		code              string
		want              string
	}{
		{"RegistryDoesNotAnswer", "127.0.0.1:1/knot/missing:1",
			`Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused`, shared.EUNAVAILABLE,
			`cannot reach the registry of image "127.0.0.1:1/knot/missing:1" at 127.0.0.1:1: Get "http://127.0.0.1:1/v2/": dial tcp`},
		{"PodmanRegistryDoesNotAnswer", "127.0.0.1:1/knot/missing:1",
			`initializing source docker://127.0.0.1:1/knot/missing:1: pinging container registry 127.0.0.1:1: Get "https://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused`,
			shared.EUNAVAILABLE, `cannot reach the registry of image "127.0.0.1:1/knot/missing:1" at 127.0.0.1:1: initializing`},
		{"CredentialsRefused", "registry.example:5000/team/dev:1",
			`Head "https://registry.example:5000/v2/team/dev/manifests/1": unauthorized: authentication required`, shared.EINVALID,
			`the registry at registry.example:5000 refused the credentials for image "registry.example:5000/team/dev:1" (the template's auth): Head`},
		{"ImageNotInRegistry", "registry.example:5000/team/nope:1",
			`manifest for registry.example:5000/team/nope:1 not found: manifest unknown: manifest unknown`, shared.ENOTFOUND,
			`image "registry.example:5000/team/nope:1" not found: the registry at registry.example:5000 does not have it: manifest for`},
		{"DockerHubAccessDenied", "nosuchimage",
			`pull access denied for nosuchimage, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`,
			shared.ENOTFOUND, `image "nosuchimage" not found: the registry at docker.io does not have it: pull access denied`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := pullError(tt.ref, errors.New(tt.detail), tt.detail)
			if shared.ErrorCode(err) != tt.code || !strings.HasPrefix(shared.ErrorMessage(err), tt.want) || !strings.HasSuffix(shared.ErrorMessage(err), tt.detail) {
				t.Fatalf("pullError = %q (%s); want %s starting %q and ending in the engine's detail", shared.ErrorMessage(err), shared.ErrorCode(err), tt.code, tt.want)
			}
		})
	}
}
