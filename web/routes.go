package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/wire"
)

// apiFunc is an authenticated API handler. A returned error is written with
// writeError; the handler writes its own success response.
type apiFunc func(w http.ResponseWriter, r *http.Request, p *principal) error

// api authenticates the request, checks that the user holds at least one of
// perms (none: any authenticated user), and runs fn.
func (s *Server) api(fn apiFunc, perms ...shared.Permission) http.HandlerFunc {
	return s.apiWith(s.authenticate, fn, perms)
}

// apiWith is api with the authentication auth.
func (s *Server) apiWith(auth func(*http.Request) (*principal, error), fn apiFunc, perms []shared.Permission) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := auth(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if len(perms) > 0 && !p.canAny(perms...) {
			s.writeError(w, r, needs(perms...))
			return
		}
		ctx := shared.NewContextWithActor(r.Context(), actorOf(p))
		r = r.WithContext(shared.NewContextWithCredential(ctx, credentialOf(w, r, p)))
		if err := fn(w, r, p); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// needs returns the EFORBIDDEN error for a missing permission.
func needs(perms ...shared.Permission) error {
	names := make([]string, len(perms))
	for i, p := range perms {
		names[i] = p.String()
	}
	return forbidden("this needs the %s permission", strings.Join(names, " or "))
}

func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(s.instrument)
	r.Use(s.appHosts) // the wildcard domain's web apps (webapps.go)
	r.NotFound(s.handleNotFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
			if r.Match(chi.NewRouteContext(), m, req.URL.Path) {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
		}
		writeJSON(w, http.StatusMethodNotAllowed, api.ErrorBody{Error: "method " + req.Method + " is not allowed on " + req.URL.Path + "; allowed: " + strings.Join(allowed, ", ")})
	})

	r.Get("/health", func(w http.ResponseWriter, req *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": true})
	})
	r.Get("/ready", s.handleReady)
	r.Get("/agent/{name}", s.handleAgentBinary) // the agent's binary (agentbinary.go)
	r.Get("/metrics", s.handleMetrics)
	r.Get("/api/openapi.yaml", handleOpenAPI)

	r.Get("/api/ping", s.api(s.handlePing))
	r.Post("/api/auth", s.handleLogin(false))
	r.Post("/api/auth/web", s.handleLogin(true))
	r.Post("/api/auth/logout", s.api(s.handleLogout))
	r.Get("/api/auth/using-totp", s.handleUsingTOTP)
	r.Post("/api/connect/approve", s.api(s.handleConnectApprove))
	r.Post("/api/connect/token", s.handleConnectToken)

	const (
		manageUsers     = shared.PermManageUsers
		manageSpaces    = shared.PermManageSpaces
		manageGroups    = shared.PermManageGroups
		manageRoles     = shared.PermManageRoles
		manageTemplates = shared.PermManageTemplates
		manageVariables = shared.PermManageVariables
		useSpaces       = shared.PermUseSpaces
	)

	r.Get("/api/users/whoami", s.api(s.handleWhoAmI))
	r.Get("/api/users", s.api(s.handleListUsers, manageUsers, manageSpaces))
	r.Post("/api/users", s.handleCreateUser)
	r.Get("/api/users/{user_id}", s.api(s.handleGetUser))
	r.Put("/api/users/{user_id}", s.write(s.handleUpdateUser))
	r.Delete("/api/users/{user_id}", s.write(s.handleDeleteUser))
	r.Get("/api/users/{user_id}/quota", s.api(s.handleUserQuota))
	r.Get("/api/users/{user_id}/ssh-keys", s.api(s.handleListSSHKeys))
	r.Post("/api/users/{user_id}/ssh-keys", s.write(s.handleAddSSHKey))
	r.Delete("/api/users/{user_id}/ssh-keys/{key_id}", s.write(s.handleRemoveSSHKey))
	r.Post("/api/auth/totp/change", s.write(s.handleBeginTOTPChange)) // totpenrol.go
	r.Post("/api/auth/totp/confirm", s.write(s.handleConfirmTOTPChange))
	r.Delete("/api/users/{user_id}/totp", s.write(s.handleResetTOTP, manageUsers))

	r.Get("/api/groups", s.api(s.handleListGroups))
	r.Post("/api/groups", s.api(s.handleCreateGroup, manageGroups))
	r.Get("/api/groups/{group_id}", s.api(s.handleGetGroup, manageGroups))
	r.Put("/api/groups/{group_id}", s.api(s.handleUpdateGroup, manageGroups))
	r.Delete("/api/groups/{group_id}", s.api(s.handleDeleteGroup, manageGroups))

	r.Get("/api/roles", s.api(s.handleListRoles))
	r.Post("/api/roles", s.api(s.handleCreateRole, manageRoles))
	r.Get("/api/roles/{role_id}", s.api(s.handleGetRole, manageRoles))
	r.Put("/api/roles/{role_id}", s.api(s.handleUpdateRole, manageRoles))
	r.Delete("/api/roles/{role_id}", s.api(s.handleDeleteRole, manageRoles))
	r.Get("/api/permissions", s.api(s.handlePermissions))

	r.Get("/api/tokens", s.api(s.handleListTokens))
	r.Post("/api/tokens", s.write(s.handleCreateToken))
	r.Delete("/api/tokens/{token_id}", s.write(s.handleDeleteToken))
	r.Get("/api/sessions", s.api(s.handleListSessions))
	r.Delete("/api/sessions/{session_id}", s.api(s.handleDeleteSession))

	r.Get("/api/templates", s.api(s.handleListTemplates))
	r.Post("/api/templates", s.write(s.handleCreateTemplate, manageTemplates))
	r.Post("/api/templates/validate", s.api(s.handleValidateTemplate, manageTemplates))
	r.Get("/api/templates/{template_id}", s.api(s.handleGetTemplate, manageTemplates))
	r.Put("/api/templates/{template_id}", s.write(s.handleUpdateTemplate, manageTemplates))
	r.Delete("/api/templates/{template_id}", s.write(s.handleDeleteTemplate, manageTemplates))

	r.Get("/api/templatevars", s.api(s.handleListVars, manageVariables))
	r.Post("/api/templatevars", s.write(s.handleCreateVar, manageVariables))
	r.Get("/api/templatevars/{templatevar_id}", s.api(s.handleGetVar, manageVariables))
	r.Put("/api/templatevars/{templatevar_id}", s.write(s.handleUpdateVar, manageVariables))
	r.Delete("/api/templatevars/{templatevar_id}", s.write(s.handleDeleteVar, manageVariables))

	r.Get("/api/spaces", s.api(s.handleListSpaces, useSpaces, manageSpaces))
	r.Post("/api/spaces", s.api(s.handleCreateSpace, useSpaces, manageSpaces))
	r.Get("/api/spaces/{space_id}", s.api(s.handleGetSpace, useSpaces, manageSpaces))
	r.Put("/api/spaces/{space_id}", s.api(s.handleUpdateSpace, useSpaces, manageSpaces))
	r.Delete("/api/spaces/{space_id}", s.api(s.handleDeleteSpace, useSpaces, manageSpaces))
	r.Post("/api/spaces/{space_id}/start", s.api(s.handleStartSpace, useSpaces, manageSpaces))
	r.Post("/api/spaces/{space_id}/stop", s.api(s.handleStopSpace, useSpaces, manageSpaces))
	r.Get("/api/spaces/{space_id}/logs", s.api(s.handleSpaceLogs, useSpaces, manageSpaces))
	r.Get("/api/spaces/{space_id}/logs/stream", s.api(s.handleSpaceLogStream, useSpaces, manageSpaces))
	r.Get("/api/spaces/{space_id}/terminal", s.api(s.handleTerminal, useSpaces, manageSpaces))
	r.Get("/api/spaces/{space_id}/ssh", s.api(s.handleSSH, useSpaces, manageSpaces))
	r.Post("/api/spaces/{space_id}/agent-token", s.api(s.handleAgentToken, useSpaces, manageSpaces))
	r.Get("/api/spaces/{space_id}/ports/{port}", s.api(s.handleForwardPort, useSpaces, manageSpaces))
	r.Get("/proxy/auth", s.handleAppAuth)
	r.HandleFunc("/proxy/spaces/{space_id}/ports/{port}", s.handleWebAppPath)
	r.HandleFunc("/proxy/spaces/{space_id}/ports/{port}/*", s.handleWebAppPath)
	r.Get("/api/spaces/{space_id}/agent-env", s.api(s.handleAgentEnv, useSpaces, manageSpaces))
	r.Get("/api/agents/outdated", s.api(s.handleOutdatedAgents, useSpaces, manageSpaces))

	r.Get("/api/audit-logs", s.api(s.handleAuditLogs, shared.PermViewAuditLogs))

	// The fleet: the leaf link, what leaves ask the origin, and the views
	// and leaf tokens of an admin (asked at the origin on a leaf).
	r.Get(wire.Path, s.handleLeafServer)
	r.Get(wire.RelayPath, s.handleLeafRelay)
	r.Get("/api/leaf/usage", s.handleLeafUsage)
	r.Get("/api/leaf/status", s.api(s.handleLeafStatus))
	r.Get("/api/leaves", s.api(s.handleListLeaves))
	r.Get("/api/leaf-tokens", s.api(s.handleListLeafTokens))
	r.Post("/api/leaf-tokens", s.api(s.handleCreateLeafToken))
	r.Delete("/api/leaf-tokens/{leaf_token_id}", s.api(s.handleDeleteLeafToken))
	r.Post("/api/leaf-tokens/{leaf_token_id}/rotate", s.api(s.handleRotateLeafToken))

	// The web UI: its pages and their assets (package ui, mounted in ui.go).
	s.mountUI(r)
	return r
}

func (s *Server) handlePing(w http.ResponseWriter, r *http.Request, p *principal) error {
	writeJSON(w, http.StatusOK, api.Ping{Status: true, Version: s.o.Version})
	return nil
}

// handleReady serves GET /ready: 200 when the store answers and takes
// writes, else 503; a store whose disk is below the free space it keeps
// says so.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := s.o.Store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready: store does not answer", "err", err)
		msg := "store is not available"
		if isCode(err, shared.ENOSPACE) {
			msg = shared.ErrorMessage(err)
		}
		writeJSON(w, http.StatusServiceUnavailable, api.ErrorBody{Error: msg})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": true})
}

// timePtr returns nil for the zero time.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
