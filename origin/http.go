package origin

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
)

var _ http.Handler = (*Hub)(nil)

// ServeHTTP serves GET /api/leaf-server: it authenticates the bearer
// credential (401 with {"error": reason} when refused), upgrades to a
// websocket with the subprotocol knot-leaf.v1, and calls Accept.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	cred, err := h.Authenticate(r.Context(), strings.TrimSpace(bearer))
	if err != nil {
		status := http.StatusServiceUnavailable
		if shared.ErrorCode(err) == shared.EUNAUTHORIZED {
			status = http.StatusUnauthorized
		} else {
			h.log.Error("origin: authenticate leaf", "err", err)
		}
		writeError(w, status, shared.ErrorMessage(err))
		return
	}
	h.mu.Lock()
	stopped := h.stopped
	h.mu.Unlock()
	if stopped {
		writeError(w, http.StatusServiceUnavailable, "origin is shutting down")
		return
	}
	if !offers(r, wire.Subprotocol) {
		writeError(w, http.StatusBadRequest, "the leaf link needs the websocket subprotocol "+wire.Subprotocol)
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wire.Subprotocol}})
	if err != nil {
		return // Accept wrote the response
	}
	if err := h.Accept(r.Context(), conn, cred); err != nil {
		h.log.Debug("origin: leaf link ended", "remote", r.RemoteAddr, "err", err)
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// offers reports whether the request offers the websocket subprotocol p.
func offers(r *http.Request, p string) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, s := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(s), p) {
				return true
			}
		}
	}
	return false
}
