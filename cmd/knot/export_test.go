package main

import "github.com/knot-dev/knot/web"

// ServerParts and NewServer wire a web server as runServer does, for the
// tests of package main_test.
type ServerParts = serverParts

func NewServer(p ServerParts) (*web.Server, error) { return newServer(p) }
