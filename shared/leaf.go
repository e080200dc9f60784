package shared

import "time"

// LeafToken is a credential the origin issues for the leaf of one location.
// ID is the hex SHA-256 of the secret, which is shown once at creation and
// never stored. It stays on the origin: leaf tokens are not replicated.
//
// A zero ExpiresAt means the token does not expire; rotating a token sets the
// old one's ExpiresAt to the end of the overlap window.
type LeafToken struct {
	Meta
	Location  string    `json:"location"`
	Name      string    `json:"name"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (*LeafToken) RecordKind() Kind     { return KindLeafToken }
func (*LeafToken) UniqueKeys() []string { return nil }

// Expired reports whether the token has expired at now.
func (t *LeafToken) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}
