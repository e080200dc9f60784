package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/wire"
)

// apiFunc is an authenticated API handler. A returned error is written with
// writeError; the handler writes its own success response.
type apiFunc func(w http.ResponseWriter, r *http.Request, p *principal) error

// api authenticates the request, checks that the user holds at least one of
// perms (none: any authenticated user), and runs fn with the actor, the
// caller and the credential in the request's context.
func (s *Server) api(fn apiFunc, perms ...shared.Permission) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(withRequest(r))
		p, err := s.authenticate(r)
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

// withRequest returns the context of r with its caller, whom the audit
// events the services record name (shared.CallerFrom).
func withRequest(r *http.Request) context.Context {
	c := callerOf(r)
	c.Writes = unsafeMethod(r.Method)
	return shared.NewContextWithCaller(r.Context(), c)
}

// credentialOf returns what the request r of p presented, for the leaf's
// services to present at the origin when they act for p there; an answer
// of the origin marks w as the origin's (X-Knot-Forwarded-To).
func credentialOf(w http.ResponseWriter, r *http.Request, p *principal) shared.Credential {
	c := shared.Credential{SessionID: p.sessionID, ForwardedFor: clientIP(r), UserAgent: r.UserAgent(),
		Answered: func() { w.Header().Set("X-Knot-Forwarded-To", "origin") }}
	if p.tokenID != "" {
		c.Token = bearer(r)
	}
	if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
		c.ForwardedFor = prior + ", " + c.ForwardedFor
	}
	return c
}

var needs = shared.NeedsOneOf

// reply is the apiFunc that answers 200 with what fn returns.
func reply[Resp any](fn func(*http.Request, *principal) (Resp, error)) apiFunc {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		out, err := fn(r, p)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

// decoded is the apiFunc that decodes the body into a Req and answers
// status with what fn returns for it.
func decoded[Req, Resp any](status int, fn func(*http.Request, *principal, *Req) (Resp, error)) apiFunc {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		var req Req
		if err := decodeRequest(w, r, &req); err != nil {
			return err
		}
		out, err := fn(r, p, &req)
		if err != nil {
			return err
		}
		writeJSON(w, status, out)
		return nil
	}
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

	r.Get("/api/ping", s.api(reply(s.handlePing)))
	r.Post("/api/auth", s.handleLogin(false))
	r.Post("/api/auth/web", s.handleLogin(true))
	r.Post("/api/auth/logout", s.api(s.handleLogout))
	r.Get("/api/auth/using-totp", s.handleUsingTOTP)
	r.Post("/api/connect/approve", s.api(decoded(http.StatusOK, s.handleConnectApprove)))
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

	r.Get("/api/users/whoami", s.api(reply(s.handleWhoAmI)))
	r.Get("/api/users", s.api(listed(s.handleListUsers), manageUsers, manageSpaces))
	r.Post("/api/users", s.handleCreateUser)
	r.Get("/api/users/{user_id}", s.api(reply(s.handleGetUser)))
	r.Put("/api/users/{user_id}", s.api(s.handleUpdateUser))
	r.Delete("/api/users/{user_id}", s.api(reply(s.handleDeleteUser)))
	r.Get("/api/users/{user_id}/quota", s.api(reply(s.handleUserQuota)))
	r.Get("/api/users/{user_id}/ssh-keys", s.api(reply(s.handleListSSHKeys)))
	r.Post("/api/users/{user_id}/ssh-keys", s.api(decoded(http.StatusCreated, s.handleAddSSHKey)))
	r.Delete("/api/users/{user_id}/ssh-keys/{key_id}", s.api(reply(s.handleRemoveSSHKey)))
	r.Post("/api/auth/totp/change", s.api(decoded(http.StatusOK, s.handleBeginTOTPChange))) // totpenrol.go
	r.Post("/api/auth/totp/confirm", s.api(decoded(http.StatusOK, s.handleConfirmTOTPChange)))
	r.Delete("/api/users/{user_id}/totp", s.api(reply(s.handleResetTOTP), manageUsers))

	r.Get("/api/groups", s.api(listed(s.handleListGroups)))
	r.Post("/api/groups", s.api(decoded(http.StatusCreated, s.handleCreateGroup), manageGroups))
	r.Get("/api/groups/{group_id}", s.api(reply(s.handleGetGroup), manageGroups))
	r.Put("/api/groups/{group_id}", s.api(decoded(http.StatusOK, s.handleUpdateGroup), manageGroups))
	r.Delete("/api/groups/{group_id}", s.api(reply(s.handleDeleteGroup), manageGroups))

	r.Get("/api/roles", s.api(listed(s.handleListRoles)))
	r.Post("/api/roles", s.api(decoded(http.StatusCreated, s.handleCreateRole), manageRoles))
	r.Get("/api/roles/{role_id}", s.api(reply(s.handleGetRole), manageRoles))
	r.Put("/api/roles/{role_id}", s.api(decoded(http.StatusOK, s.handleUpdateRole), manageRoles))
	r.Delete("/api/roles/{role_id}", s.api(reply(s.handleDeleteRole), manageRoles))
	r.Get("/api/permissions", s.api(reply(s.handlePermissions)))

	r.Get("/api/tokens", s.api(s.handleListTokens))
	r.Post("/api/tokens", s.api(decoded(http.StatusCreated, s.handleCreateToken)))
	r.Delete("/api/tokens/{token_id}", s.api(reply(s.handleDeleteToken)))
	r.Get("/api/sessions", s.api(reply(s.handleListSessions)))
	r.Delete("/api/sessions/{session_id}", s.api(reply(s.handleDeleteSession)))

	r.Get("/api/templates", s.api(listed(s.handleListTemplates)))
	r.Post("/api/templates", s.api(decoded(http.StatusCreated, s.handleCreateTemplate), manageTemplates))
	r.Post("/api/templates/validate", s.api(decoded(http.StatusOK, s.handleValidateTemplate), manageTemplates))
	r.Get("/api/templates/{template_id}", s.api(reply(s.handleGetTemplate), manageTemplates))
	r.Put("/api/templates/{template_id}", s.api(decoded(http.StatusOK, s.handleUpdateTemplate), manageTemplates))
	r.Delete("/api/templates/{template_id}", s.api(reply(s.handleDeleteTemplate), manageTemplates))

	r.Get("/api/templatevars", s.api(listed(s.handleListVars), manageVariables))
	r.Post("/api/templatevars", s.api(decoded(http.StatusCreated, s.handleCreateVar), manageVariables))
	r.Get("/api/templatevars/{templatevar_id}", s.api(reply(s.handleGetVar), manageVariables))
	r.Put("/api/templatevars/{templatevar_id}", s.api(decoded(http.StatusOK, s.handleUpdateVar), manageVariables))
	r.Delete("/api/templatevars/{templatevar_id}", s.api(reply(s.handleDeleteVar), manageVariables))

	r.Get("/api/spaces", s.api(s.handleListSpaces, useSpaces, manageSpaces))
	r.Post("/api/spaces", s.api(s.handleCreateSpace, useSpaces, manageSpaces))
	r.Get("/api/spaces/{space_id}", s.api(reply(s.handleGetSpace), useSpaces, manageSpaces))
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
	r.Get("/api/agents/outdated", s.api(reply(s.handleOutdatedAgents), useSpaces, manageSpaces))

	r.Get("/api/audit-logs", s.api(listed(s.handleAuditLogs), shared.PermViewAuditLogs))

	// The fleet: the leaf link, what leaves ask the origin, and the views
	// and leaf tokens of an admin (asked at the origin on a leaf).
	r.Get(wire.Path, s.handleLeafServer)
	r.Get(wire.RelayPath, s.handleLeafRelay)
	r.Get("/api/leaf/usage", s.handleLeafUsage)
	r.Get("/api/leaf/status", s.api(reply(s.handleLeafStatus)))
	r.Post("/api/leaf/retry", s.api(reply(s.handleLeafRetry)))
	r.Get("/api/leaves", s.api(listed(s.handleListLeaves)))
	r.Get("/api/leaf-tokens", s.api(listed(s.handleListLeafTokens)))
	r.Post("/api/leaf-tokens", s.api(decoded(http.StatusCreated, s.handleCreateLeafToken)))
	r.Delete("/api/leaf-tokens/{leaf_token_id}", s.api(reply(s.handleDeleteLeafToken)))
	r.Post("/api/leaf-tokens/{leaf_token_id}/rotate", s.api(decoded(http.StatusCreated, s.handleRotateLeafToken)))

	// The web UI: its pages and their assets (package ui, mounted in ui.go).
	s.mountUI(r)
	return r
}

func (s *Server) handlePing(*http.Request, *principal) (api.Ping, error) {
	return api.Ping{Status: true, Version: s.o.Version}, nil
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
