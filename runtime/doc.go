// Package runtime runs spaces. It renders template specs (Go text/template
// with ${{ }} delimiters), validates container specs, defines the Runtime
// interface that the container engines and Nomad implement, and owns the
// space lifecycle: Manager starts, stops and deletes spaces, keeps each space
// record in an explicit state, and reconciles the records with what the
// runtimes report.
//
// Errors are coded *shared.Error values. Where a caller needs more than the
// code, the error has a type of its own (an undefined template variable is
// a *MissingVarError), matched with errors.As: no caller reads error text.
// The one place that reads text is where text/template's errors, which
// carry their line and node only in their text, become ours.
//
// Drivers live in subpackages (runtime/docker serves Docker and Podman) and
// never import each other; runtime/runtimetest holds test helpers: real
// engines for integration tests, an in-memory fake Runtime, in-memory records
// and the lifecycle suite every driver passes.
package runtime
