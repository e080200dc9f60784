package main

import "github.com/knot-dev/knot/web"

// ServerParts and NewServer wire a web server as runServer does, for the
// tests of package main_test, which keep no house.
type ServerParts = serverParts

func NewServer(p ServerParts) (*web.Server, error) {
	srv, _, err := newServer(p)
	return srv, err
}
