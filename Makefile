# knot: the two commands a new user needs are `make run` and `make test`.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
GO      ?= go

.PHONY: build run test bench fuzz clean

# A static binary (no cgo), so the leaf can inject it into any container image.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/knot ./cmd/knot

# Starts a standalone server on the embedded BadgerDB in ./data/badger,
# listening on http://127.0.0.1:3000. Stop it with Ctrl-C.
run: build
	./bin/knot server

# Runs the whole test suite. Tests that need Docker, Podman, dnsmasq, ... skip
# with a message when those are missing; KNOT_REQUIRE_ENGINES=1 makes such
# skips failures (CI sets it after installing everything).
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

clean:
	rm -rf bin
