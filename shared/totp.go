package shared

// TOTPState is what one server keeps of a user's TOTP logins; its ID is the
// user's. It is not replicated: each server remembers the codes used at it,
// and an origin keeps the enrolment in progress. The active secret itself is
// User.TOTPSecret, sealed with server.encrypt, which the origin replicates
// to trusted leaves only.
type TOTPState struct {
	Meta
	// Pending is the sealed secret of an enrolment the user has not yet
	// confirmed with a code; "" when none is in progress.
	Pending string `json:"pending,omitempty"`
	// SecretHash is the hex SHA-256 of the sealed secret LastStep belongs
	// to: a new secret starts with no step used.
	SecretHash string `json:"secret_hash,omitempty"`
	// LastStep is the last time step whose code logged in: that code and
	// every older one are refused.
	LastStep int64 `json:"last_step"`
}

func (*TOTPState) RecordKind() Kind     { return KindTOTP }
func (*TOTPState) UniqueKeys() []string { return nil }
