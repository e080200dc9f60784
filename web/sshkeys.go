package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/sshkey"
	"github.com/knot-dev/knot/storage"
)

// SSH keys of a user's profile: GET and POST /api/users/{user_id}/ssh-keys
// and DELETE /api/users/{user_id}/ssh-keys/{key_id}. The user themself or
// a user with Manage Users (who may change that user's account) lists,
// adds and removes them; they live in the user record, so every leaf has
// them, and SSH into a space accepts them while the origin is away.

// sshKeyList is the API's list of u's keys.
func sshKeyList(u *shared.User) api.SSHKeyList {
	out := api.SSHKeyList{Keys: make([]api.SSHKey, 0, len(u.SSHKeys))}
	for _, k := range u.SSHKeys {
		out.Keys = append(out.Keys, api.SSHKey{ID: k.ID, Name: k.Name, Key: k.Key, Fingerprint: k.Fingerprint, AddedAt: k.AddedAt})
	}
	return out
}

// handleListSSHKeys serves GET /api/users/{user_id}/ssh-keys.
func (s *Server) handleListSSHKeys(w http.ResponseWriter, r *http.Request, p *principal) error {
	u, err := s.users.Get(r.Context(), chi.URLParam(r, "user_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sshKeyList(u))
	return nil
}

// handleAddSSHKey serves POST /api/users/{user_id}/ssh-keys.
func (s *Server) handleAddSSHKey(w http.ResponseWriter, r *http.Request, p *principal) error {
	cur, err := s.users.Get(r.Context(), chi.URLParam(r, "user_id"))
	if err != nil {
		return err
	}
	var req api.SSHKeyAddRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	k, err := sshkey.Parse(req.Key)
	if err != nil {
		return invalid("key: %v", err)
	}
	name := strings.TrimSpace(cmpOr(req.Name, k.Comment, k.Fingerprint))
	if err := checkText("name", name, 256); err != nil {
		return err
	}
	key := shared.SSHKey{ID: newID(), Name: name, Key: k.Line, Fingerprint: k.Fingerprint, AddedAt: s.now().UTC()}
	u, err := s.changeSSHKeys(r, p, cur.ID, func(u *shared.User) error {
		for _, have := range u.SSHKeys {
			if have.Fingerprint == k.Fingerprint {
				return shared.Errorf(shared.ECONFLICT, "user %s already has the key %s (%s)", quote(u.Username), k.Fingerprint, quote(have.Name))
			}
		}
		if len(u.SSHKeys) >= sshkey.MaxKeys {
			return invalid("user %s has %d SSH keys, the most there may be: remove one first", quote(u.Username), sshkey.MaxKeys)
		}
		u.SSHKeys = append(u.SSHKeys, key)
		return nil
	})
	if err != nil {
		return err
	}
	s.audit(r, p, "SSH Key Add", "SSH key "+key.Fingerprint+" added to user "+u.Username,
		map[string]string{"updated_user_id": u.ID, "key_id": key.ID, "fingerprint": key.Fingerprint})
	writeJSON(w, http.StatusCreated, api.SSHKey{ID: key.ID, Name: key.Name, Key: key.Key, Fingerprint: key.Fingerprint, AddedAt: key.AddedAt})
	return nil
}

// handleRemoveSSHKey serves DELETE /api/users/{user_id}/ssh-keys/{key_id}.
func (s *Server) handleRemoveSSHKey(w http.ResponseWriter, r *http.Request, p *principal) error {
	cur, err := s.users.Get(r.Context(), chi.URLParam(r, "user_id"))
	if err != nil {
		return err
	}
	// A fingerprint holds / and +, which a client escapes.
	id, err := url.PathUnescape(chi.URLParam(r, "key_id"))
	if err != nil {
		return invalid("key_id %s is not a valid path segment", quote(chi.URLParam(r, "key_id")))
	}
	var gone shared.SSHKey
	u, err := s.changeSSHKeys(r, p, cur.ID, func(u *shared.User) error {
		for i, k := range u.SSHKeys {
			if k.ID == id || k.Fingerprint == id {
				gone = k
				u.SSHKeys = append(u.SSHKeys[:i:i], u.SSHKeys[i+1:]...)
				return nil
			}
		}
		return notFound("user %s has no SSH key %s", quote(u.Username), quote(id))
	})
	if err != nil {
		return err
	}
	s.audit(r, p, "SSH Key Remove", "SSH key "+gone.Fingerprint+" removed from user "+u.Username,
		map[string]string{"updated_user_id": u.ID, "key_id": gone.ID, "fingerprint": gone.Fingerprint})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// changeSSHKeys applies edit to the keys of user id, as the grant rules
// let p (who may change the account of a user holding no more than they
// do). The routes are served by the origin.
func (s *Server) changeSSHKeys(r *http.Request, p *principal, id string, edit func(*shared.User) error) (*shared.User, error) {
	ctx := context.WithoutCancel(r.Context())
	get := func() (*shared.User, error) {
		u, err := storage.Get[shared.User](ctx, s.store, id)
		if isCode(err, shared.ENOTFOUND) {
			return nil, notFound("user %s not found", quote(id))
		}
		return u, err
	}
	return update(ctx, s, get, func(u *shared.User) error {
		before := *u
		before.SSHKeys = append([]shared.SSHKey(nil), u.SSHKeys...)
		if err := edit(u); err != nil {
			return err
		}
		u.UpdatedAt = s.now().UTC()
		return origin.JudgeChange(ctx, actorOf(p), origin.Change{UserBefore: &before, UserAfter: u}, s.role)
	})
}

// cmpOr returns the first of vs that is not blank.
func cmpOr(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
