package origin

import (
	"sync"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// Bounds of the codes a server keeps for browser logins of the CLI.
const (
	// maxConnectCodes bounds the codes kept at once, used and expired ones
	// included; beyond it new approvals wait until old codes go.
	maxConnectCodes = 1024
	// maxConnectCodesPerUser bounds one user's codes that can still be
	// redeemed.
	maxConnectCodesPerUser = 8
	// connectCodeMemory is how long a used or expired code is remembered,
	// so that its refusal says what happened to it.
	connectCodeMemory = 10 * time.Minute
)

// ConnectCodes keeps the one-time codes of browser logins of the CLI
// (shared.ConnectRequest describes the flow) in memory: a code is
// redeemed at the server that issued it. A code works once, for
// shared.ConnectCodeTTL, and only with the verifier of its challenge; it
// names the user and the login session that approved it, and the host of
// the CLI. Codes are kept by their SHA-256, so the code itself is held
// nowhere, and the verifier is compared in constant time.
type ConnectCodes struct {
	now func() time.Time

	mu    sync.Mutex
	codes map[string]*connectCode // by crypt.HashToken(code); guarded by mu
}

// ConnectGrant is what a redeemed code was approved for.
type ConnectGrant struct {
	UserID, SessionID string
	Host              string // the host the CLI named
}

type connectCode struct {
	grant     ConnectGrant
	challenge string
	expires   time.Time
	used      bool
}

// NewConnectCodes returns an empty code store; now nil means time.Now.
func NewConnectCodes(now func() time.Time) *ConnectCodes {
	if now == nil {
		now = time.Now
	}
	return &ConnectCodes{now: now, codes: map[string]*connectCode{}}
}

// Issue returns a new code for the grant g to the CLI that holds the
// verifier of challenge. EINVALID for a malformed challenge; EUNAVAILABLE
// when the user, or the server, has too many codes waiting.
func (c *ConnectCodes) Issue(g ConnectGrant, challenge string) (string, error) {
	if err := shared.CheckConnectChallenge(challenge); err != nil {
		return "", err
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweep(now)
	waiting := 0
	for _, e := range c.codes {
		if !e.used && now.Before(e.expires) && e.grant.UserID == g.UserID {
			waiting++
		}
	}
	if waiting >= maxConnectCodesPerUser || len(c.codes) >= maxConnectCodes {
		return "", shared.Errorf(shared.EUNAVAILABLE, "too many approvals are waiting for their CLI; try again in %v", shared.ConnectCodeTTL)
	}
	code := crypt.NewToken()
	c.codes[crypt.HashToken(code)] = &connectCode{grant: g, challenge: challenge, expires: now.Add(shared.ConnectCodeTTL)}
	return code, nil
}

// Redeem uses code with verifier and returns its grant. The code is used
// up by any attempt that names it, a wrong verifier included. EINVALID
// saying what is wrong: a missing or malformed field, a code this server
// did not issue (or forgot), one already used, one expired, or a verifier
// that does not match the challenge.
func (c *ConnectCodes) Redeem(code, verifier string) (ConnectGrant, error) {
	if code == "" {
		return ConnectGrant{}, shared.Errorf(shared.EINVALID, "code is required")
	}
	if err := shared.CheckConnectVerifier(verifier); err != nil {
		return ConnectGrant{}, err
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweep(now)
	e, ok := c.codes[crypt.HashToken(code)]
	switch {
	case !ok:
		return ConnectGrant{}, shared.Errorf(shared.EINVALID, "the code is not one this server issued in the last %v: approve the CLI again", connectCodeMemory)
	case e.used:
		return ConnectGrant{}, shared.Errorf(shared.EINVALID, "the code was already used: a code works once; approve the CLI again")
	}
	e.used = true
	if !now.Before(e.expires) {
		return ConnectGrant{}, shared.Errorf(shared.EINVALID, "the code expired at %s: it works for %v after the approval; approve the CLI again",
			e.expires.UTC().Format(time.RFC3339), shared.ConnectCodeTTL)
	}
	if !crypt.Equal(shared.ConnectChallenge(verifier), e.challenge) {
		return ConnectGrant{}, shared.Errorf(shared.EINVALID, "code_verifier does not match the challenge the code was approved for")
	}
	return e.grant, nil
}

// sweep forgets the codes used or expired longer than connectCodeMemory
// ago and, when the store is full, every used or expired one.
func (c *ConnectCodes) sweep(now time.Time) {
	for k, e := range c.codes {
		if now.After(e.expires.Add(connectCodeMemory)) {
			delete(c.codes, k)
		}
	}
	if len(c.codes) < maxConnectCodes {
		return
	}
	for k, e := range c.codes {
		if e.used || !now.Before(e.expires) {
			delete(c.codes, k)
		}
	}
}
