package web

import (
	"net/http"
	"os"
	goruntime "runtime"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
)

// The agent's binary: GET /agent/knot-GOOS-GOARCH (knot-linux-amd64,
// knot-linux-arm64) serves this server's own executable, so that the owner
// of a manual space fetches the knot agent from the server it links to:
//
//	curl -fo knot https://knot.example.com/agent/knot-linux-amd64
//
// It needs no authentication: the binary holds no secret, and the machine
// that downloads it has no credential yet. Only the name of the running
// binary's own GOOS and GOARCH is served (a server does not keep builds
// for other platforms); any other is 404 with the name it does serve. The
// file is served as it is: only a static build (`make build`,
// CGO_ENABLED=0) runs in any image; a cgo build needs the C library it was
// linked against.

// agentBinaryName is the name this server serves its binary under.
func agentBinaryName() string { return "knot-" + goruntime.GOOS + "-" + goruntime.GOARCH }

// handleAgentBinary serves GET /agent/{name}.
func (s *Server) handleAgentBinary(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if s.o.AgentBinary == "" {
		s.writeError(w, r, notFound("this server does not serve its knot binary"))
		return
	}
	if name != agentBinaryName() {
		s.writeError(w, r, notFound("no knot binary %s here: this server runs %s/%s and serves /agent/%s", quote(name), goruntime.GOOS, goruntime.GOARCH, agentBinaryName()))
		return
	}
	f, err := os.Open(s.o.AgentBinary)
	if err != nil {
		s.writeError(w, r, shared.Errorf(shared.EINTERNAL, "open this server's knot binary: %v", err))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		s.writeError(w, r, shared.Errorf(shared.EINTERNAL, "stat this server's knot binary: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	// ServeContent sets Content-Length and answers HEAD and ranges.
	http.ServeContent(w, r, name, fi.ModTime(), f)
}
