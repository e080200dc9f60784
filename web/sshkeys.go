package web

import (
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
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
	var req api.SSHKeyAddRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	u, k, err := s.users.AddSSHKey(r.Context(), chi.URLParam(r, "user_id"), req.Name, req.Key)
	if err != nil {
		return err
	}
	s.auditWrite(r, p, "SSH Key Add", "SSH key "+k.Fingerprint+" added to user "+u.Username,
		map[string]string{"updated_user_id": u.ID, "key_id": k.ID, "fingerprint": k.Fingerprint})
	writeJSON(w, http.StatusCreated, api.SSHKey{ID: k.ID, Name: k.Name, Key: k.Key, Fingerprint: k.Fingerprint, AddedAt: k.AddedAt})
	return nil
}

// handleRemoveSSHKey serves DELETE /api/users/{user_id}/ssh-keys/{key_id}.
// A fingerprint holds / and +, which a client escapes.
func (s *Server) handleRemoveSSHKey(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := url.PathUnescape(chi.URLParam(r, "key_id"))
	if err != nil {
		return invalid("key_id %s is not a valid path segment", quote(chi.URLParam(r, "key_id")))
	}
	u, k, err := s.users.RemoveSSHKey(r.Context(), chi.URLParam(r, "user_id"), id)
	if err != nil {
		return err
	}
	s.auditWrite(r, p, "SSH Key Remove", "SSH key "+k.Fingerprint+" removed from user "+u.Username,
		map[string]string{"updated_user_id": u.ID, "key_id": k.ID, "fingerprint": k.Fingerprint})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}
