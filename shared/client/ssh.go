package client

import (
	"context"
	"net/http"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared/api"
)

// SSHKeys lists the SSH public keys of a user's profile: those of the key
// list, and the lines of the older ssh_public_key field (GET
// /api/users/{user_id}/ssh-keys).
func (u *Users) SSHKeys(ctx context.Context, id string) (*api.SSHKeyList, error) {
	var out api.SSHKeyList
	return &out, u.c.Do(ctx, http.MethodGet, "/api/users/"+esc(id)+"/ssh-keys", nil, &out)
}

// AddSSHKey adds a public key (a line of a .pub file) to a user's profile
// (POST /api/users/{user_id}/ssh-keys).
func (u *Users) AddSSHKey(ctx context.Context, id string, req api.SSHKeyAddRequest) (*api.SSHKey, error) {
	var out api.SSHKey
	return &out, u.c.Do(ctx, http.MethodPost, "/api/users/"+esc(id)+"/ssh-keys", req, &out)
}

// RemoveSSHKey removes a key, by id or fingerprint, from a user's profile
// (DELETE /api/users/{user_id}/ssh-keys/{key_id}).
func (u *Users) RemoveSSHKey(ctx context.Context, id, keyID string) error {
	return u.c.Do(ctx, http.MethodDelete, "/api/users/"+esc(id)+"/ssh-keys/"+esc(keyID), nil, nil)
}

// SSHInfo returns the Host name and host key of a space for OpenSSH (GET
// /api/spaces/{space_id}/ssh without an upgrade).
func (s *Spaces) SSHInfo(ctx context.Context, id string) (*api.SpaceSSH, error) {
	var out api.SpaceSSH
	return &out, s.c.Do(ctx, http.MethodGet, "/api/spaces/"+esc(id)+"/ssh", nil, &out)
}

// SSH opens an SSH connection to a space (GET /api/spaces/{space_id}/ssh
// as a websocket); ctx bounds the dial only. Binary messages carry the
// connection's bytes both ways. The caller closes the connection.
func (s *Spaces) SSH(ctx context.Context, id string) (*websocket.Conn, error) {
	conn, err := s.c.dial(ctx, "/api/spaces/"+esc(id)+"/ssh", "cannot open SSH")
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(MaxTerminalMessage)
	return conn, nil
}
