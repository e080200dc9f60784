package origin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// A user sees and ends their own sessions at a server (the account page):
// each by a public id, a hash of the session's id, so that what a page
// shows is no id the server authenticates by.

// publicSessionID returns the public id of the session with id.
func publicSessionID(id string) string {
	sum := sha256.Sum256([]byte("knot-session\x00" + id))
	return hex.EncodeToString(sum[:16])
}

// ownSessions returns the unexpired sessions of userID.
func (s *AuthService) ownSessions(ctx context.Context, userID string) ([]*shared.Session, error) {
	now := s.opts.Now()
	return storage.ListWhere(ctx, s.store, func(se *shared.Session) bool {
		return se.UserID == userID && !s.over(se, now)
	})
}

// OwnSessions implements shared.AuthService.
func (s *AuthService) OwnSessions(ctx context.Context) ([]*shared.SessionInfo, error) {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return nil, err
	}
	sessions, err := s.ownSessions(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	out := make([]*shared.SessionInfo, 0, len(sessions))
	for _, se := range sessions {
		out = append(out, &shared.SessionInfo{ID: publicSessionID(se.ID), SessionID: se.ID, IP: se.IP, UserAgent: se.UserAgent,
			CreatedAt: se.CreatedAt, LastUsedAt: se.UpdatedAt, ExpiresAt: se.ExpiresAt})
	}
	slices.SortFunc(out, func(a, b *shared.SessionInfo) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// EndOwnSession implements shared.AuthService.
func (s *AuthService) EndOwnSession(ctx context.Context, id string) error {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return err
	}
	sessions, err := s.ownSessions(ctx, a.User.ID)
	if err != nil {
		return err
	}
	for _, se := range sessions {
		if publicSessionID(se.ID) == id {
			s.audit(ctx, a.User.Username, a.User.ID, "Session Revoked", "a session of "+a.User.Username+" ended by its user")
			return s.Logout(ctx, se.ID)
		}
	}
	return shared.Errorf(shared.ENOTFOUND, "you have no session %q here: it has ended already, or was never yours", id)
}
