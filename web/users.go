package web

import (
	"context"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// The handlers of users, groups, roles, tokens, templates and variables
// decode, make one call to a service and encode; the service checks the
// actor's permissions, validates, writes and records the audit event (see
// package origin; a leaf's services forward writes to the origin, which
// records them).

func (s *Server) handleWhoAmI(r *http.Request, p *principal) (api.User, error) {
	out := api.NewUser(p.user, p.user.ID)
	out.Permissions = shared.PermissionSet(p.perms).List()
	return out, nil
}

func (s *Server) handleListUsers(r *http.Request, p *principal) (api.UserList, error) {
	users, err := listPage(r, s.users.List)
	return api.NewUserList(users, p.user.ID), err
}

// handleCreateUser serves POST /api/users. While no user exists it needs no
// credentials and creates an active admin; afterwards it needs Manage Users.
func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) {
	if hasCredentials(r) {
		s.api(createUser(s.users.Create), shared.PermManageUsers)(w, r)
		return
	}
	r = r.WithContext(shared.NewContextWithCredential(withRequest(r), credentialOf(w, r, &principal{})))
	if err := s.createFirstUser(w, r); err != nil {
		s.writeError(w, r, err)
	}
}

// createFirstUser creates the first user while no user exists; the user
// service keeps two setups, of this server or of servers sharing one
// store, from both succeeding. Once a user exists it answers 401 before it
// reads the body. On a leaf, the origin creates the user.
func (s *Server) createFirstUser(w http.ResponseWriter, r *http.Request) error {
	need, err := s.users.NeedsSetup(r.Context())
	if err != nil {
		return err
	}
	if !need {
		return errNotAuthenticated
	}
	return createUser(s.users.Setup)(w, r, nil)
}

func createUser(create func(context.Context, shared.NewUser) (*shared.User, error)) apiFunc {
	return decoded(http.StatusCreated, func(r *http.Request, _ *principal, req *api.UserCreateRequest) (api.UserCreated, error) {
		u, err := create(r.Context(), req.NewUser())
		if err != nil {
			return api.UserCreated{}, err
		}
		return api.UserCreated{Status: true, UserID: u.ID}, nil
	})
}

func (s *Server) handleGetUser(r *http.Request, p *principal) (api.User, error) {
	u, err := s.users.Get(r.Context(), chi.URLParam(r, "user_id"))
	if err != nil {
		return api.User{}, err
	}
	return api.NewUser(u, p.user.ID), nil
}

// handleUpdateUser serves PUT /api/users/{user_id}: the access check comes
// before the body is read, as the service would make it.
func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	if _, err := shared.UserAccess(r.Context(), chi.URLParam(r, "user_id")); err != nil {
		return err
	}
	return decoded(http.StatusOK, func(r *http.Request, p *principal, req *api.UserUpdateRequest) (api.OK, error) {
		_, err := s.users.Update(r.Context(), chi.URLParam(r, "user_id"), req.Update(p.sessionID))
		return okResp, err
	})(w, r, p)
}

func (s *Server) handleDeleteUser(r *http.Request, _ *principal) (api.OK, error) {
	_, _, err := s.users.Delete(r.Context(), chi.URLParam(r, "user_id"))
	return okResp, err
}

func (s *Server) handleUserQuota(r *http.Request, _ *principal) (api.Quota, error) {
	q, err := s.users.Quota(r.Context(), chi.URLParam(r, "user_id"))
	return api.NewQuota(q), err
}

// The SSH keys of a user live in the user record, so every leaf has them
// and SSH into a space accepts them while the origin is away.

func (s *Server) handleListSSHKeys(r *http.Request, _ *principal) (api.SSHKeyList, error) {
	u, err := s.users.Get(r.Context(), chi.URLParam(r, "user_id"))
	if err != nil {
		return api.SSHKeyList{}, err
	}
	return api.NewSSHKeyList(u), nil
}

func (s *Server) handleAddSSHKey(r *http.Request, _ *principal, req *api.SSHKeyAddRequest) (api.SSHKey, error) {
	_, k, err := s.users.AddSSHKey(r.Context(), chi.URLParam(r, "user_id"), req.Name, req.Key)
	if err != nil {
		return api.SSHKey{}, err
	}
	return api.NewSSHKey(k), nil
}

// handleRemoveSSHKey serves DELETE /api/users/{user_id}/ssh-keys/{key_id}.
// A fingerprint holds / and +, which a client escapes.
func (s *Server) handleRemoveSSHKey(r *http.Request, _ *principal) (api.OK, error) {
	id, err := url.PathUnescape(chi.URLParam(r, "key_id"))
	if err != nil {
		return okResp, invalid("key_id %s is not a valid path segment", quote(chi.URLParam(r, "key_id")))
	}
	_, _, err = s.users.RemoveSSHKey(r.Context(), chi.URLParam(r, "user_id"), id)
	return okResp, err
}
