// Package runtimetest helps test runtime drivers and their users. It holds
// the lifecycle suite that every runtime.Runtime passes (RunLifecycle), an
// in-memory fake runtime that passes it too (Fake), in-memory records for a
// runtime.Manager (Records), and real engines for integration tests: a
// private dockerd or podman service started by a test binary on sockets in a
// temporary directory, with a test image made from Debian's busybox-static
// (StartDocker, StartPodman) and knot's own static binary to inject as the
// agent (Engine.Knot). Only tests import it.
package runtimetest
