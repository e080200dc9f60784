package origin

import (
	"context"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

// CredentialKind says how a leaf authenticated.
type CredentialKind string

const (
	// CredentialShared is the origin's shared token: a trusted leaf of any
	// location.
	CredentialShared CredentialKind = "shared"
	// CredentialLeafToken is a per-leaf token: a trusted leaf of the token's
	// location.
	CredentialLeafToken CredentialKind = "leaf_token"
	// CredentialAPIToken is a user's API token: a restricted leaf whose
	// location is the owner's restricted location ("user:" and the
	// username) and whose view is the owner's.
	CredentialAPIToken CredentialKind = "api_token"
)

// Credential is an authenticated leaf credential, as returned by
// Authenticate.
type Credential struct {
	Kind CredentialKind
	// TokenID is the id (the hash) of the leaf or API token; "" for the
	// shared token.
	TokenID string
	// Location is the location the credential binds: a per-leaf token's
	// location or an API token owner's restricted location; "" for the
	// shared token, which lets the leaf name its own.
	Location string
	// UserID is the owner of an API token.
	UserID string
}

// Restricted reports whether the credential makes a restricted leaf.
func (c Credential) Restricted() bool { return c.Kind == CredentialAPIToken }

// Authenticate checks a bearer credential presented by a leaf: the shared
// token, a per-leaf token, or (with EnableLeafAPITokens) a user's API token.
// Secrets are compared by their hashes, the shared token in constant time.
// It returns EUNAUTHORIZED with a reason for a refused credential, and the
// store's errors.
func (h *Hub) Authenticate(ctx context.Context, bearer string) (Credential, error) {
	if bearer == "" {
		return Credential{}, shared.Errorf(shared.EUNAUTHORIZED, "no leaf credential: send Authorization: Bearer <token>")
	}
	hash := crypt.HashToken(bearer)
	if h.sharedHash != "" && crypt.Equal(hash, h.sharedHash) {
		return Credential{Kind: CredentialShared}, nil
	}
	if lt, err := storage.Get[shared.LeafToken](ctx, h.store, hash); err == nil {
		if lt.Expired(h.now()) {
			return Credential{}, shared.Errorf(shared.EUNAUTHORIZED, "the leaf token %q for location %q has expired", lt.Name, lt.Location)
		}
		return Credential{Kind: CredentialLeafToken, TokenID: lt.ID, Location: lt.Location}, nil
	} else if shared.ErrorCode(err) != shared.ENOTFOUND {
		return Credential{}, err
	}
	if h.apiTokens {
		cred, err := h.checkAPIToken(ctx, hash)
		if shared.ErrorCode(err) != shared.ENOTFOUND {
			return cred, err
		}
	}
	return Credential{}, shared.Errorf(shared.EUNAUTHORIZED, "the leaf credential is not a valid token of this origin")
}

// checkAPIToken returns the restricted credential of the API token with the
// given id, ENOTFOUND if there is no such token.
func (h *Hub) checkAPIToken(ctx context.Context, id string) (Credential, error) {
	tok, err := storage.Get[shared.Token](ctx, h.store, id)
	if err != nil {
		return Credential{}, err
	}
	if !tok.ExpiresAt.IsZero() && !h.now().Before(tok.ExpiresAt) {
		return Credential{}, shared.Errorf(shared.EUNAUTHORIZED, "the API token %q has expired", tok.Name)
	}
	owner, err := storage.Get[shared.User](ctx, h.store, tok.UserID)
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return Credential{}, shared.Errorf(shared.EUNAUTHORIZED, "the owner of API token %q no longer exists", tok.Name)
	} else if err != nil {
		return Credential{}, err
	}
	if !owner.Active {
		return Credential{}, shared.Errorf(shared.EUNAUTHORIZED, "the owner of API token %q, %s, is inactive", tok.Name, owner.Username)
	}
	return Credential{Kind: CredentialAPIToken, TokenID: tok.ID, Location: shared.RestrictedLocation(owner.Username), UserID: owner.ID}, nil
}

// recheck returns EUNAUTHORIZED when cred no longer holds: its token was
// revoked or expired, or an API token's owner was removed, deactivated or
// renamed (which moves the restricted leaf's location).
func (h *Hub) recheck(ctx context.Context, cred Credential) error {
	switch cred.Kind {
	case CredentialLeafToken:
		lt, err := storage.Get[shared.LeafToken](ctx, h.store, cred.TokenID)
		if shared.ErrorCode(err) == shared.ENOTFOUND {
			return shared.Errorf(shared.EUNAUTHORIZED, "the leaf token was revoked")
		} else if err != nil {
			return err
		}
		if lt.Expired(h.now()) {
			return shared.Errorf(shared.EUNAUTHORIZED, "the leaf token has expired")
		}
	case CredentialAPIToken:
		now, err := h.checkAPIToken(ctx, cred.TokenID)
		if shared.ErrorCode(err) == shared.ENOTFOUND {
			return shared.Errorf(shared.EUNAUTHORIZED, "the API token was revoked")
		} else if err != nil {
			return err
		}
		if now.Location != cred.Location {
			return shared.Errorf(shared.EUNAUTHORIZED, "the API token's owner was renamed to %s", now.Location)
		}
	}
	return nil
}

// checkLocation returns EINVALID when s is not usable as a location.
func checkLocation(s string) error {
	if s == "" || len(s) > 64 || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return shared.Errorf(shared.EINVALID, "location %.80q is invalid: it must be 1 to 64 printable characters without spaces", s)
	}
	return nil
}

// CreateLeafToken issues a token for the leaf of location and returns its
// secret, which is shown once and stored only as its hash. EINVALID for a
// bad location or name, and for a location no trusted leaf may serve: a
// restricted one, or the origin's own.
func (h *Hub) CreateLeafToken(ctx context.Context, location, name string) (string, *shared.LeafToken, error) {
	if err := h.checkTrustedLocation(location); err != nil {
		return "", nil, err
	}
	if len(name) > 128 {
		return "", nil, shared.Errorf(shared.EINVALID, "leaf token name is longer than 128 bytes")
	}
	secret := crypt.NewToken()
	now := h.now().UTC()
	lt := &shared.LeafToken{Meta: shared.Meta{ID: crypt.HashToken(secret), CreatedAt: now, UpdatedAt: now}, Location: location, Name: name}
	if err := h.store.Put(ctx, lt); err != nil {
		return "", nil, err
	}
	return secret, lt, nil
}

// LeafTokens lists the leaf tokens, expired ones included, by location.
func (h *Hub) LeafTokens(ctx context.Context) ([]*shared.LeafToken, error) {
	all, err := storage.List[shared.LeafToken](ctx, h.store)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Location != all[j].Location {
			return all[i].Location < all[j].Location
		}
		return all[i].CreatedAt.Before(all[j].CreatedAt)
	})
	return all, nil
}

// RevokeLeafToken deletes the leaf token id and closes the links that use
// it. ENOTFOUND if there is no such token.
func (h *Hub) RevokeLeafToken(ctx context.Context, id string) error {
	if _, err := h.store.Delete(ctx, shared.KindLeafToken, id); err != nil {
		return err
	}
	h.dropLinks(func(c Credential) bool { return c.Kind == CredentialLeafToken && c.TokenID == id }, "the leaf token was revoked")
	return nil
}

// RotateLeafToken issues a new token for the location of token id and makes
// the old one expire after overlap (at once when overlap is 0 or less; an
// earlier expiry is kept). Both work during the overlap, so the leaf can be
// given the new secret without a gap. ENOTFOUND if there is no such token.
func (h *Hub) RotateLeafToken(ctx context.Context, id string, overlap time.Duration) (string, *shared.LeafToken, error) {
	old, err := storage.Get[shared.LeafToken](ctx, h.store, id)
	if err != nil {
		return "", nil, err
	}
	secret, lt, err := h.CreateLeafToken(ctx, old.Location, old.Name)
	if err != nil {
		return "", nil, err
	}
	end := h.now().UTC().Add(max(overlap, 0))
	if old.ExpiresAt.IsZero() || end.Before(old.ExpiresAt) {
		old.ExpiresAt, old.UpdatedAt = end, h.now().UTC()
		if err := h.store.Put(ctx, old); err != nil {
			return "", nil, err
		}
	}
	return secret, lt, nil
}
