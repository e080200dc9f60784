// Package knot is the root of knot, a self-hosted system for cloud
// development environments that span many locations. The code lives in the
// subpackages laid out in DESIGN.md: cmd/knot (the binary), web (HTTP),
// origin and leaf (replication), runtime and storage (drivers), agent, and
// shared (the domain). This package holds only the repository-wide tests that
// guard that layout.
package knot
