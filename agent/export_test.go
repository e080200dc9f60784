package agent

import "time"

// SetViewerTimeout sets how long a session waits for a viewer, for tests,
// and returns the function that restores it.
func SetViewerTimeout(d time.Duration) func() {
	old := viewerTimeout
	viewerTimeout = d
	return func() { viewerTimeout = old }
}
