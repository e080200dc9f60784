# knot: the two commands a new user needs are `make run` and `make test`.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
GO      ?= go

.PHONY: build run test bench fuzz clean vendor-ui vendor-test ui-screenshots

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

# The web terminal's xterm.js and its fit addon, from npm, with their
# licences, into web/ui/static/vendor/. The files are committed, so building
# knot needs neither npm nor the network; run this only to change versions.
XTERM_VERSION     ?= 6.0.0
XTERM_FIT_VERSION ?= 0.11.0
UI_VENDOR         := web/ui/static/vendor
vendor-ui:
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cd "$$tmp" && npm pack --silent @xterm/xterm@$(XTERM_VERSION) @xterm/addon-fit@$(XTERM_FIT_VERSION) >/dev/null; \
	mkdir x f && tar xzf xterm-xterm-$(XTERM_VERSION).tgz -C x && tar xzf xterm-addon-fit-$(XTERM_FIT_VERSION).tgz -C f; \
	cd $(CURDIR) && rm -rf $(UI_VENDOR) && mkdir -p $(UI_VENDOR)/xterm $(UI_VENDOR)/addon-fit; \
	sed '/^\/\/# sourceMappingURL=/d' "$$tmp/x/package/lib/xterm.mjs" > $(UI_VENDOR)/xterm/xterm.mjs; \
	cp "$$tmp/x/package/css/xterm.css" "$$tmp/x/package/LICENSE" $(UI_VENDOR)/xterm/; \
	sed '/^\/\/# sourceMappingURL=/d' "$$tmp/f/package/lib/addon-fit.mjs" > $(UI_VENDOR)/addon-fit/addon-fit.mjs; \
	cp "$$tmp/f/package/LICENSE" $(UI_VENDOR)/addon-fit/; \
	printf '%s\n' "Vendored by make vendor-ui from npm; do not edit." \
	  "@xterm/xterm $(XTERM_VERSION) (MIT): xterm/" "@xterm/addon-fit $(XTERM_FIT_VERSION) (MIT): addon-fit/" > $(UI_VENDOR)/README

# axe-core, the accessibility checker the browser tests run in every page,
# from npm with its licence, into web/testdata/axe/. Only tests use it; the
# files are committed, so the tests need neither npm nor the network.
AXE_VERSION ?= 4.14.1
TEST_VENDOR := web/testdata/axe
vendor-test:
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cd "$$tmp" && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null && tar xzf axe-core-$(AXE_VERSION).tgz; \
	cd $(CURDIR) && rm -rf $(TEST_VENDOR) && mkdir -p $(TEST_VENDOR); \
	cp "$$tmp/package/axe.min.js" "$$tmp/package/LICENSE" $(TEST_VENDOR)/; \
	printf '%s\n' "Vendored by make vendor-test from npm; do not edit. Used only by the tests." \
	  "axe-core $(AXE_VERSION) (MPL-2.0): axe.min.js, LICENSE" > $(TEST_VENDOR)/README

# The screenshots of every page of the web UI, at 1280 and 390 px, into
# docs/ui/, as the accessibility test takes them in Chromium.
ui-screenshots:
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	KNOT_REQUIRE_ENGINES=1 KNOT_UI_SCREENSHOTS="$$tmp" $(GO) test -count=1 -run '^TestUIAccessibilityInBrowser$$' ./web; \
	mkdir -p docs/ui; for f in "$$tmp"/knot-ui-page-*.png; do cp "$$f" "docs/ui/$${f##*/knot-ui-page-}"; done
