package main

import "os"

// ownBinary is the path of the running knot binary, which the server
// serves to agents at /agent/knot-GOOS-GOARCH; "" when unknown.
func ownBinary() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return exe
}
