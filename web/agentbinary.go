package web

import (
	"net/http"
	"os"
	goruntime "runtime"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
)

// handleAgentBinary serves GET /agent/{name}: this server's own executable
// (Options.AgentBinary) under the name of its own platform, so that the
// owner of a manual space fetches the agent from the server it links to.
// It needs no authentication: the binary holds no secret, and the machine
// that downloads it has no credential yet.
func (s *Server) handleAgentBinary(w http.ResponseWriter, r *http.Request) {
	name, own := chi.URLParam(r, "name"), "knot-"+goruntime.GOOS+"-"+goruntime.GOARCH
	if s.o.AgentBinary == "" {
		s.writeError(w, r, notFound("this server does not serve its knot binary"))
		return
	}
	if name != own {
		s.writeError(w, r, notFound("no knot binary %s here: this server runs %s/%s and serves /agent/%s", quote(name), goruntime.GOOS, goruntime.GOARCH, own))
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
	http.ServeContent(w, r, name, fi.ModTime(), f) // Content-Length, HEAD and ranges
}
