package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// The user handlers decode, make one call to the user service, audit and
// encode; the service checks the actor's permissions and the grant rules,
// validates and writes (see package origin).

func newUserResponse(u *shared.User, p *principal) api.User {
	r := api.User{
		ID: u.ID, Username: u.Username, Email: u.Email, SSHPublicKey: u.SSHPublicKey,
		PreferredShell: u.PreferredShell, Timezone: u.Timezone,
		Roles: nonNil(u.Roles), Groups: nonNil(u.Groups), Active: u.Active,
		MaxSpaces: u.MaxSpaces, ComputeUnits: u.ComputeUnits, StorageUnits: u.StorageUnits, MaxTunnels: u.MaxTunnels,
		Current: p != nil && p.user.ID == u.ID, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
	if r.Current {
		r.ServicePassword = u.ServicePassword
	}
	return r
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func deref[T any](p *T) T { return shared.Deref(p) }

// handleWhoAmI serves GET /api/users/whoami.
func (s *Server) handleWhoAmI(w http.ResponseWriter, r *http.Request, p *principal) error {
	resp := newUserResponse(p.user, p)
	resp.Permissions = nonNil(p.permissions())
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// handleListUsers serves GET /api/users?state=all|active|inactive.
func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request, p *principal) error {
	users, err := listPage(r, s.users.List)
	if err != nil {
		return err
	}
	out := api.UserList{Count: len(users.Items), Total: users.Total, Users: make([]api.UserListItem, 0, len(users.Items))}
	for _, l := range users.Items {
		out.Users = append(out.Users, api.UserListItem{User: newUserResponse(l.User, p),
			NumberSpaces: l.NumberSpaces, NumberSpacesDeployed: l.NumberSpacesDeployed})
	}
	writeTaggedJSON(w, r, out)
	return nil
}

func newUser(req *api.UserCreateRequest) shared.NewUser {
	return shared.NewUser{Username: req.Username, Email: req.Email, Password: req.Password,
		ServicePassword: req.ServicePassword, Roles: req.Roles, Groups: req.Groups, Active: req.Active,
		MaxSpaces: req.MaxSpaces, ComputeUnits: req.ComputeUnits, StorageUnits: req.StorageUnits, MaxTunnels: req.MaxTunnels,
		SSHPublicKey: req.SSHPublicKey, PreferredShell: req.PreferredShell, Timezone: req.Timezone}
}

// handleCreateUser serves POST /api/users. While no user exists it needs no
// credentials and creates an active admin (firstuser.go); afterwards it
// needs Manage Users.
func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) {
	if !hasCredentials(r) {
		r = r.WithContext(shared.NewContextWithCredential(r.Context(), credentialOf(w, r, &principal{})))
		if err := s.createFirstUser(w, r); err != nil {
			s.writeError(w, r, err)
		}
		return
	}
	s.write(s.createUser, shared.PermManageUsers)(w, r)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.UserCreateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	u, err := s.users.Create(r.Context(), newUser(&req))
	if err != nil {
		return err
	}
	s.auditWrite(r, p, "User Create", "user "+u.Username+" created", map[string]string{"created_user_id": u.ID})
	writeJSON(w, http.StatusCreated, api.UserCreated{Status: true, UserID: u.ID})
	return nil
}

// handleGetUser serves GET /api/users/{user_id}.
func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	u, err := s.users.Get(r.Context(), chi.URLParam(r, "user_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newUserResponse(u, p))
	return nil
}

func userUpdate(req *api.UserUpdateRequest, p *principal) shared.UserUpdate {
	return shared.UserUpdate{Username: req.Username, Email: req.Email, Password: req.Password,
		ServicePassword: req.ServicePassword, Roles: req.Roles, Groups: req.Groups, Active: req.Active,
		MaxSpaces: req.MaxSpaces, ComputeUnits: req.ComputeUnits, StorageUnits: req.StorageUnits, MaxTunnels: req.MaxTunnels,
		SSHPublicKey: req.SSHPublicKey, PreferredShell: req.PreferredShell, Timezone: req.Timezone,
		KeepTokens: deref(req.KeepTokens), KeepSession: p.sessionID, CurrentPassword: deref(req.CurrentPassword)}
}

// handleUpdateUser serves PUT /api/users/{user_id}. Fields left out keep
// their values. A change of one's own password or email needs the current
// password (credentials.go), which on a leaf the origin checks.
func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := chi.URLParam(r, "user_id")
	if _, err := shared.UserAccess(r.Context(), id); err != nil {
		return err // before the body, as the service would
	}
	var req api.UserUpdateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	if s.origin == nil {
		if err := s.checkCurrentPassword(r, p, id, &req); err != nil {
			return err
		}
	}
	u, err := s.users.Update(r.Context(), id, userUpdate(&req, p))
	if err != nil {
		return err
	}
	s.auditWrite(r, p, "User Update", "user "+u.Username+" updated", map[string]string{"updated_user_id": u.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleDeleteUser serves DELETE /api/users/{user_id}: the user's spaces,
// then the user with their tokens and sessions (userdelete.go).
func (s *Server) handleDeleteUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	u, spaces, err := s.users.Delete(r.Context(), chi.URLParam(r, "user_id"))
	for _, sp := range spaces {
		s.auditWrite(r, p, "Space Delete", "space "+sp.Name+" of "+u.Username+" deleted with its user", map[string]string{"space_id": sp.ID})
	}
	if err != nil {
		return err
	}
	s.auditWrite(r, p, "User Delete", "user "+u.Username+" deleted", map[string]string{"deleted_user_id": u.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleUserQuota serves GET /api/users/{user_id}/quota.
func (s *Server) handleUserQuota(w http.ResponseWriter, r *http.Request, p *principal) error {
	q, err := s.users.Quota(r.Context(), chi.URLParam(r, "user_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, quotaResponse(q))
	return nil
}

func quotaResponse(q shared.Quota) api.Quota {
	return api.Quota{MaxSpaces: q.MaxSpaces, ComputeUnits: q.ComputeUnits, StorageUnits: q.StorageUnits, MaxTunnels: q.MaxTunnels,
		NumberSpaces: q.NumberSpaces, NumberSpacesDeployed: q.NumberSpacesDeployed,
		UsedComputeUnits: q.UsedComputeUnits, UsedStorageUnits: q.UsedStorageUnits}
}
