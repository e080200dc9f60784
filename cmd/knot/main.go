// Command knot is knot's one binary: the server (origin, leaf or both), the
// admin commands that work offline on a server's store, and the helpers that
// make configuration files and keys. It wires packages together and holds no
// business logic of its own.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
