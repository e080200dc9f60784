package docker

import (
	"strings"

	"github.com/distribution/reference"

	"github.com/knot-dev/knot/shared"
)

// pullError says in words why the engine could not pull the image ref:
// the registry cannot be reached (naming its address), it refused the
// credentials, or it does not have the image. The engine's own detail
// follows at the end.
func pullError(ref string, cause error, detail string) error {
	lower := strings.ToLower(detail)
	switch {
	case containsAny(lower, unreachableSigns):
		return shared.Wrap(shared.EUNAVAILABLE, cause, "cannot reach the registry of image %q at %s: %s", ref, registryOf(ref), detail)
	case containsAny(lower, credentialSigns):
		return shared.Wrap(shared.EINVALID, cause, "the registry at %s refused the credentials for image %q (the template's auth): %s", registryOf(ref), ref, detail)
	}
	return shared.Wrap(shared.ENOTFOUND, cause, "image %q not found: the registry at %s does not have it: %s", ref, registryOf(ref), detail)
}

// unreachableSigns are what engines say when the registry does not answer.
var unreachableSigns = []string{
	"connection refused", "no such host", "i/o timeout", "network is unreachable", "no route to host",
	"connection reset", "tls handshake", "server gave http response to https client", "dial tcp", "dial udp",
	"deadline exceeded", "timeout awaiting", "temporary failure in name resolution",
}

// credentialSigns are what engines say when the registry refuses the
// credentials. Docker's "pull access denied ... may require 'docker login'"
// is what a registry says of an image it does not have, and is not one.
var credentialSigns = []string{
	"unauthorized", "authentication required", "incorrect username or password", "invalid username/password",
	"401 unauthorized", "access to the requested resource is not authorized",
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// registryOf returns the registry host of an image reference, as the
// engine resolves it (docker.io for a bare name).
func registryOf(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "?"
	}
	return reference.Domain(named)
}
