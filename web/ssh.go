package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/sshkey"
	"github.com/knot-dev/knot/storage"
)

// SSH: GET /api/spaces/{space_id}/ssh.
//
// Without an upgrade it answers api.SpaceSSH: the name ssh-config gives
// the space and its host key (made on first use for a space older than
// host keys). As a websocket it carries one SSH connection, relayed to the
// space's agent, which serves SSH with the space's host key and lets in
// the keys of the caller's profile: binary messages both ways are the
// connection's bytes (knot forward ssh is the client).
//
// Only the space's owner, or a user with Manage Spaces, gets in; others
// get 404, and the refusal is audited. Every connection is audited when it
// opens and when it closes, with how long it lasted and the bytes each way.

// sshReadLimit bounds one websocket message of an SSH connection.
const sshReadLimit = 1 << 20

// newHostKey makes a space's SSH host key: the private key and the public
// key in authorized_keys form.
func newHostKey() (string, string) {
	priv, pub, err := sshkey.NewHostKey()
	if err != nil {
		panic("making an ed25519 key: " + err.Error()) // crypto/rand does not fail
	}
	return priv, pub
}

// handleSSH serves GET /api/spaces/{space_id}/ssh.
func (s *Server) handleSSH(w http.ResponseWriter, r *http.Request, p *principal) error {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		sp, err := s.sshSpace(r, p)
		if err != nil {
			return err
		}
		if sp, err = s.spaceHostKey(r.Context(), sp); err != nil {
			return err
		}
		return s.serveSSH(w, r, p, sp)
	}
	sp, err := s.accessSpace(r.Context(), r, p)
	if err != nil {
		return err
	}
	if sp.SSHHostKey == "" && s.remote(sp) {
		return shared.Errorf(shared.ECONFLICT, "space %s runs at location %s and has no SSH host key yet: ask that location's server", quote(sp.Name), quote(sp.Location))
	}
	if sp, err = s.spaceHostKey(r.Context(), sp); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.SpaceSSH{SpaceID: sp.ID, Host: "knot." + sp.Name, HostKey: sp.SSHHostPublic})
	return nil
}

// sshSpace returns the space r asks to reach, when p may (else 404, and
// the refusal is audited) and this server holds its agent's link.
func (s *Server) sshSpace(r *http.Request, p *principal) (*shared.Space, error) {
	id := chi.URLParam(r, "space_id")
	sp, err := storage.Get[shared.Space](r.Context(), s.store, id)
	switch {
	case isCode(err, shared.ENOTFOUND):
		return nil, notFound("space %s not found", quote(id))
	case err != nil:
		return nil, err
	case sp.UserID != p.user.ID && !p.can(shared.PermManageSpaces):
		s.audit(r, p, "ssh refused", fmt.Sprintf("SSH to space %s refused: not its owner", sp.Name), map[string]string{"space_id": sp.ID})
		return nil, notFound("space %s not found", quote(id))
	case s.remote(sp):
		return nil, shared.Errorf(shared.ECONFLICT, "space %s runs at location %s: reach it through that location's server", quote(sp.Name), quote(sp.Location))
	case s.agents == nil:
		return nil, shared.Errorf(shared.EUNAVAILABLE, "this server has no agent endpoint, so no SSH")
	}
	return sp, nil
}

// spaceHostKey returns sp with its host key, making and storing one when
// it has none.
func (s *Server) spaceHostKey(ctx context.Context, sp *shared.Space) (*shared.Space, error) {
	if sp.SSHHostKey != "" {
		return sp, nil
	}
	ctx = context.WithoutCancel(ctx)
	var out *shared.Space
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		cur, err := storage.Get[shared.Space](ctx, tx, sp.ID)
		if err != nil {
			return err
		}
		out = cur
		if cur.SSHHostKey != "" {
			return nil
		}
		cur.SSHHostKey, cur.SSHHostPublic = newHostKey()
		cur.UpdatedAt = s.now().UTC()
		return tx.Put(ctx, cur)
	})
	return out, err
}

// serveSSH relays one SSH connection to the agent of sp over the
// websocket r asks for, and audits it.
func (s *Server) serveSSH(w http.ResponseWriter, r *http.Request, p *principal, sp *shared.Space) error {
	keys := sshkey.Fingerprints(p.user)
	if len(keys) == 0 {
		return invalid("user %s has no SSH public key in their profile: add one with knot ssh-key add FILE.pub", quote(p.user.Username))
	}
	shell := sp.Shell
	if u, err := storage.Get[shared.User](r.Context(), s.store, sp.UserID); err == nil && u.PreferredShell != "" {
		shell = u.PreferredShell
	}
	stop, done, ok := s.streams.open()
	if !ok {
		return shared.Errorf(shared.EUNAVAILABLE, "the server is shutting down")
	}
	defer done()
	remote := clientIP(r)
	st, err := s.agents.OpenSSH(r.Context(), sp.ID, agentwire.SSH{HostKey: sp.SSHHostKey, Keys: keys,
		User: p.user.Username, Remote: remote, Shell: shell})
	if err != nil {
		return err
	}
	defer st.Close()
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil // Accept wrote the response
	}
	defer conn.CloseNow()
	conn.SetReadLimit(sshReadLimit)

	s.audit(r, p, "ssh opened", fmt.Sprintf("SSH connection to space %s opened", sp.Name), map[string]string{"space_id": sp.ID})
	began := s.now()
	in, out, reason := relaySSH(r.Context(), conn, st, stop)
	s.audit(r, p, "ssh closed", fmt.Sprintf("SSH connection to space %s closed: %s", sp.Name, reason), map[string]string{
		"space_id": sp.ID, "duration": s.now().Sub(began).Round(time.Millisecond).String(), "reason": reason,
		"bytes_in": strconv.FormatInt(in, 10), "bytes_out": strconv.FormatInt(out, 10),
	})
	return nil
}

// relaySSH copies between the websocket and the agent's stream until one
// direction ends, and returns the bytes from the client (in) and to it
// (out), and why it ended. It owns its goroutines and returns after them.
func relaySSH(ctx context.Context, conn *websocket.Conn, st io.ReadWriteCloser, stop <-chan struct{}) (in, out int64, reason string) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	nc := websocket.NetConn(ctx, conn, websocket.MessageBinary)
	var once sync.Once
	end := func(why string) {
		once.Do(func() {
			reason = why
			nc.Close()
			st.Close()
		})
	}
	var copies sync.WaitGroup
	copies.Go(func() {
		in, _ = io.Copy(st, nc)
		end("the client closed it")
	})
	copies.Go(func() {
		out, _ = io.Copy(nc, st)
		end("the space closed it")
	})
	watch := make(chan struct{})
	go func() {
		defer close(watch)
		select {
		case <-stop:
			end("the server is shutting down")
		case <-ctx.Done():
		}
	}()
	copies.Wait()
	cancel()
	<-watch
	return in, out, reason
}
