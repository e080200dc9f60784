//go:build !linux

package metrics

// residentBytes is not known on this system.
func residentBytes() (uint64, bool) { return 0, false }
