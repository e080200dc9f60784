package web

import (
	"cmp"
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

// newSpaceInfo describes sp; u and t (its owner and template) may be nil.
func newSpaceInfo(sp *shared.Space, u *shared.User, t *shared.Template) api.Space {
	info := api.Space{
		ID: sp.ID, Name: sp.Name, Description: sp.Description, UserID: sp.UserID,
		TemplateID: sp.TemplateID, Location: sp.Location, Shell: sp.Shell, State: sp.State, Reason: sp.Reason,
		IsDeployed: sp.Deployed(), StartedAt: sp.StartedAt, CreatedAt: sp.CreatedAt, UpdatedAt: sp.UpdatedAt,
		HTTPPorts: []shared.HTTPPort{},
	}
	if u != nil {
		info.Username = u.Username
	}
	if t != nil {
		info.TemplateName = t.Name
		info.HTTPPorts = nonNil(t.HTTPPorts)
		info.UpdateAvailable = t.Hash != sp.TemplateHash
	}
	return info
}

// handleListSpaces serves GET /api/spaces: the caller's spaces; with Manage
// Spaces, ?user_id= lists another user's and ?all=true everyone's. The
// response comes from the list cache and is encoded once per store change.
func (s *Server) handleListSpaces(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := r.URL.Query()
	userID, all := q.Get("user_id"), q.Get("all")
	switch all {
	case "", "false", "true":
	default:
		return invalid("query parameter all must be true or false, not %s", quote(all))
	}
	v, err := s.lists.get(r.Context(), s.store)
	if err != nil {
		return err
	}
	var body []byte
	switch {
	case all == "true":
		if !p.can(shared.PermManageSpaces) {
			return needs(shared.PermManageSpaces)
		}
		body = s.listBody(v, "*", func(*shared.Space) bool { return true })
	default:
		if userID == "" {
			userID = p.user.ID
		}
		if userID != p.user.ID {
			if !p.can(shared.PermManageSpaces) {
				return needs(shared.PermManageSpaces)
			}
			if v.users[userID] == nil {
				return notFound("user %s not found", quote(userID))
			}
		}
		body = s.listBody(v, "user:"+userID, func(sp *shared.Space) bool { return sp.UserID == userID })
	}
	writeRaw(w, http.StatusOK, body)
	return nil
}

// handleCreateSpace serves POST /api/spaces.
func (s *Server) handleCreateSpace(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.SpaceCreateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	// The fields first, as they will be: no shell means the owner's.
	if err := checkSpaceFields(&shared.Space{Name: req.Name, Description: req.Description, Shell: cmp.Or(req.Shell, "bash"), State: shared.SpaceStopped}); err != nil {
		return err
	}
	if req.TemplateID == "" {
		return invalid("template_id is required")
	}
	if req.Location != "" {
		if err := checkLocation("location", req.Location); err != nil {
			return err
		}
	}
	ctx := context.WithoutCancel(r.Context())
	owner := p.user
	if req.UserID != "" && req.UserID != p.user.ID {
		if !p.can(shared.PermManageSpaces) {
			return forbidden("creating a space for another user needs the Manage Spaces permission")
		}
		u, err := s.getUser(ctx, req.UserID)
		if isCode(err, shared.ENOTFOUND) {
			return invalid("user_id: user %s does not exist", quote(req.UserID))
		}
		if err != nil {
			return err
		}
		owner = u
	}
	if !owner.Active {
		return invalid("user_id: user %s is not active", quote(owner.Username))
	}
	t, err := s.spaceTemplate(ctx, owner, req.TemplateID)
	if err != nil {
		return err
	}
	if req.Location, err = s.spaceLocation(ctx, req.Location, t); err != nil {
		return err
	}
	shell := req.Shell
	if shell == "" {
		shell = owner.PreferredShell
	}
	if shell == "" {
		shell = "bash"
	}

	// The quota holds in the store's transaction (quota.go); the lock keeps
	// this server's creations for one owner from conflicting there.
	unlock := s.ownerLocks.lock("spaces/" + owner.ID)
	defer unlock()
	secret := crypt.NewToken()
	now := s.now().UTC()
	sp := &shared.Space{
		Meta:           shared.Meta{ID: newID(), CreatedAt: now, UpdatedAt: now},
		UserID:         owner.ID,
		TemplateID:     t.ID,
		Name:           req.Name,
		Description:    req.Description,
		Location:       req.Location,
		Shell:          shell,
		State:          shared.SpaceStopped,
		TemplateHash:   t.Hash,
		AgentTokenHash: crypt.HashToken(secret),
	}
	if err := s.checkSpacePlace(ctx, owner, nil, sp); err != nil {
		return err
	}
	if s.remote(sp) {
		if err = s.checkSpaceQuota(ctx, owner); err == nil {
			err = s.createRemote(ctx, sp)
		}
		if isCode(err, shared.ECONFLICT) {
			err = spaceNameTaken(owner, sp)
		}
	} else {
		err = createSpace(ctx, s.store, sp, s.spaceScope(ctx, owner.ID))
	}
	if err != nil {
		return err
	}
	s.audit(r, p, "Space Create", "space "+sp.Name+" created for "+owner.Username+" at location "+sp.Location,
		map[string]string{"space_id": sp.ID, "template_id": t.ID, "space_location": sp.Location})
	writeJSON(w, http.StatusCreated, api.SpaceCreated{Status: true, SpaceID: sp.ID, AgentToken: secret})
	return nil
}

// accessSpace returns the space named by {space_id} if p owns it or holds
// Manage Spaces; to anyone else it does not exist.
func (s *Server) accessSpace(ctx context.Context, r *http.Request, p *principal) (*shared.Space, error) {
	id := chi.URLParam(r, "space_id")
	sp, err := storage.Get[shared.Space](ctx, s.store, id)
	if isCode(err, shared.ENOTFOUND) || (err == nil && sp.UserID != p.user.ID && !p.can(shared.PermManageSpaces)) {
		return nil, notFound("space %s not found", quote(id))
	}
	return sp, err
}

// spaceInfoOf looks up the owner and template of sp and describes it.
func (s *Server) spaceInfoOf(ctx context.Context, sp *shared.Space) (api.Space, error) {
	u, err := storage.Get[shared.User](ctx, s.store, sp.UserID)
	if err != nil && !isCode(err, shared.ENOTFOUND) {
		return api.Space{}, err
	}
	t, err := storage.Get[shared.Template](ctx, s.store, sp.TemplateID)
	if err != nil && !isCode(err, shared.ENOTFOUND) {
		return api.Space{}, err
	}
	return newSpaceInfo(sp, u, t), nil
}

// handleGetSpace serves GET /api/spaces/{space_id}.
func (s *Server) handleGetSpace(w http.ResponseWriter, r *http.Request, p *principal) error {
	sp, err := s.accessSpace(r.Context(), r, p)
	if err != nil {
		return err
	}
	info, err := s.spaceInfoOf(r.Context(), sp)
	if err != nil {
		return err
	}
	info.Agent = s.agentOf(sp)
	writeJSON(w, http.StatusOK, info)
	return nil
}

// handleUpdateSpace serves PUT /api/spaces/{space_id}: name, description
// and shell. A deployed space cannot be renamed (423).
func (s *Server) handleUpdateSpace(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := context.WithoutCancel(r.Context())
	cur, err := s.accessSpace(ctx, r, p)
	if err != nil {
		return err
	}
	var req api.SpaceUpdateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	if s.remote(cur) {
		return shared.Errorf(shared.ECONFLICT, "space %s belongs to location %s, whose leaf owns its record: change it at that leaf", quote(cur.Name), quote(cur.Location))
	}
	if req.Name != nil {
		if err := checkName("name", *req.Name); err != nil {
			return err
		}
	}
	if req.Description != nil {
		if err := checkText("description", *req.Description, 4096); err != nil {
			return err
		}
	}
	if req.Shell != nil && !shared.ValidShell(*req.Shell) {
		return invalid("shell %s is not one of bash, zsh, fish, sh", quote(*req.Shell))
	}
	sp, err := update(ctx, s, func() (*shared.Space, error) { return s.accessSpace(ctx, r, p) }, func(sp *shared.Space) error {
		if req.Name != nil && *req.Name != sp.Name && sp.Deployed() {
			return shared.Errorf(shared.ELOCKED, "space %s is %s: stop it before renaming it", quote(sp.Name), sp.State)
		}
		setIf(&sp.Name, req.Name)
		setIf(&sp.Description, req.Description)
		setIf(&sp.Shell, req.Shell)
		sp.UpdatedAt = s.now().UTC()
		return nil
	})
	if isCode(err, shared.ECONFLICT) && req.Name != nil {
		return shared.Errorf(shared.ECONFLICT, "this user already has a space named %s at location %s", quote(*req.Name), quote(cur.Location))
	}
	if err != nil {
		return err
	}
	s.audit(r, p, "Space Update", "space "+sp.Name+" updated", map[string]string{"space_id": cur.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleDeleteSpace serves DELETE /api/spaces/{space_id}: the controller
// stops the space if needed and removes it.
func (s *Server) handleDeleteSpace(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := context.WithoutCancel(r.Context())
	sp, err := s.accessSpace(ctx, r, p)
	if err != nil {
		return err
	}
	if done, err := s.viaOrigin(w, r, sp); done {
		return err
	}
	if err := s.act(ctx, sp, wire.ActionDelete); err != nil {
		return err
	}
	s.audit(r, p, "Space Delete", "space "+sp.Name+" deleted", map[string]string{"space_id": sp.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleStartSpace serves POST /api/spaces/{space_id}/start. Starting a
// space that is not deployed counts its template's compute units against
// the owner's quota (0: unlimited).
func (s *Server) handleStartSpace(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := context.WithoutCancel(r.Context())
	sp, err := s.accessSpace(ctx, r, p)
	if err != nil {
		return err
	}
	if done, err := s.viaOrigin(w, r, sp); done {
		return err
	}
	if s.remote(sp) {
		// Its leaf writes its record: the quota is checked before the
		// command.
		if !sp.Deployed() {
			if err := s.checkComputeQuota(ctx, sp); err != nil {
				return err
			}
		}
		return s.spaceAction(w, r, p, sp, "Space Start", "started", wire.ActionStart)
	}
	scope := s.spaceScope(ctx, sp.UserID)
	unlock := s.ownerLocks.lock("spaces/" + sp.UserID)
	before, claimed, err := claimStart(ctx, s.store, sp.ID, s.now, scope)
	unlock()
	if err != nil {
		return err
	}
	err = s.spaceAction(w, r, p, sp, "Space Start", "started", wire.ActionStart)
	if err != nil && claimed != nil {
		if rerr := releaseStart(ctx, s.store, before, claimed); rerr != nil {
			s.log.ErrorContext(ctx, "giving back the compute units of a failed start failed", "space", sp.ID, "err", rerr)
		}
	}
	return err
}

// handleStopSpace serves POST /api/spaces/{space_id}/stop.
func (s *Server) handleStopSpace(w http.ResponseWriter, r *http.Request, p *principal) error {
	sp, err := s.accessSpace(context.WithoutCancel(r.Context()), r, p)
	if err != nil {
		return err
	}
	if done, err := s.viaOrigin(w, r, sp); done {
		return err
	}
	return s.spaceAction(w, r, p, sp, "Space Stop", "stopped", wire.ActionStop)
}

func (s *Server) spaceAction(w http.ResponseWriter, r *http.Request, p *principal, sp *shared.Space, event, verb, action string) error {
	ctx := context.WithoutCancel(r.Context())
	if err := s.act(ctx, sp, action); err != nil {
		return err
	}
	s.audit(r, p, event, "space "+sp.Name+" "+verb, map[string]string{"space_id": sp.ID})
	resp := api.SpaceAction{Status: true}
	if cur, err := storage.Get[shared.Space](ctx, s.store, sp.ID); err == nil {
		resp.State, resp.Reason = cur.State, cur.Reason
	} else if !isCode(err, shared.ENOTFOUND) {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) checkComputeQuota(ctx context.Context, sp *shared.Space) error {
	owner, err := s.getUser(ctx, sp.UserID)
	if err != nil {
		return err
	}
	t, err := s.getTemplate(ctx, sp.TemplateID)
	if err != nil {
		return err
	}
	q, err := s.quota(ctx, owner)
	if err != nil {
		return err
	}
	if q.ComputeUnits > 0 && q.UsedComputeUnits+t.ComputeUnits > q.ComputeUnits {
		return shared.Errorf(shared.EQUOTA, "compute unit quota exceeded: %d of %d in use, and space %s needs %d", q.UsedComputeUnits, q.ComputeUnits, quote(sp.Name), t.ComputeUnits)
	}
	return nil
}
