package web

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// Session lifetimes. A session ends sessionTTL after its last use (the
// sliding expiry) and at the latest Options.SessionMaxAge after the login
// (the absolute one), however busy it is.
const (
	// defaultSessionMaxAge is the absolute lifetime when Options leaves it 0.
	defaultSessionMaxAge = 7 * 24 * time.Hour
	// maxSessionsPerUser bounds the sessions one user holds; a login beyond
	// it ends that user's oldest sessions.
	maxSessionsPerUser = 20
)

// sessionExpiry is when a session made at created ends if it is not used
// after now: sessionTTL from now, but never past its absolute end.
func (s *Server) sessionExpiry(created, now time.Time) time.Time {
	next := now.Add(sessionTTL)
	if end := created.Add(s.sessionMaxAge); end.Before(next) {
		return end
	}
	return next
}

// sessionOver reports whether se has ended at now.
func (s *Server) sessionOver(se *shared.Session, now time.Time) bool {
	return !now.Before(se.ExpiresAt) || !now.Before(se.CreatedAt.Add(s.sessionMaxAge))
}

// capSessions ends the oldest sessions of userID beyond maxSessionsPerUser.
func (s *Server) capSessions(ctx context.Context, userID string) error {
	sessions, err := storage.ListWhere(ctx, s.store, func(se *shared.Session) bool { return se.UserID == userID })
	if err != nil || len(sessions) <= maxSessionsPerUser {
		return err
	}
	slices.SortFunc(sessions, func(a, b *shared.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	for _, se := range sessions[maxSessionsPerUser:] {
		if _, err := s.store.Delete(ctx, shared.KindSession, se.ID); err != nil && !isCode(err, shared.ENOTFOUND) {
			return err
		}
	}
	return nil
}

// secureCookies reports whether session cookies are marked Secure: when the
// request came over TLS, or the server's public URL is https (a proxy in
// front of it ends TLS).
func (s *Server) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.url, "https://")
}
