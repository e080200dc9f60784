package shared

import (
	"context"
	"time"
)

// MaxTokensPerUser bounds the API tokens one user may hold.
const MaxTokensPerUser = 100

// TokenService manages the API tokens of the actor in ctx (ActorFrom):
// everyone manages their own and sees no one else's. Every method fails
// with EUNAUTHORIZED when there is no actor. An origin implements it over
// its store; a leaf reads its replica and leaves writes to the origin.
type TokenService interface {
	// List returns the actor's API tokens o selects (SelectTokens).
	// EINVALID for options out of range.
	List(ctx context.Context, o ListOptions) (Page[*Token], error)

	// Create creates an API token named name for the actor, which expires
	// at expires (zero: never), and returns it with its secret, which is
	// shown this once: the store keeps only its hash, the token's id.
	// EINVALID when the name is missing, longer than 255 bytes or holds a
	// control character, or expires is not in the future; EQUOTA when the
	// actor holds MaxTokensPerUser tokens already (the count and the write
	// are one transaction); EUNAVAILABLE when the write cannot reach the
	// origin.
	Create(ctx context.Context, name string, expires time.Time) (tok *Token, secret string, err error)

	// Delete deletes the actor's API token with id and returns it as it
	// was. ENOTFOUND when there is none, or it is another's;
	// EUNAVAILABLE when the write cannot reach the origin.
	Delete(ctx context.Context, id string) (*Token, error)
}

// Expired reports whether t has expired at now.
func (t *Token) Expired(now time.Time) bool { return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) }
