// Package runtime runs spaces. It renders template specs (Go text/template
// with ${{ }} delimiters), validates container specs, defines the Runtime
// interface that the container engines and Nomad implement, and owns the
// space lifecycle: Manager starts, stops and deletes spaces, keeps each space
// record in an explicit state, and reconciles the records with what the
// runtimes report.
//
// Drivers live in subpackages (runtime/docker serves Docker and Podman) and
// never import each other; runtime/runtimetest holds test helpers: real
// engines for integration tests, an in-memory fake Runtime, in-memory records
// and the lifecycle suite every driver passes.
package runtime
