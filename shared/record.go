package shared

import (
	"encoding/json"
	"time"
)

// Kind names a type of stored record.
type Kind string

// The kinds of record. Origin-owned kinds are replicated to leaves through the
// change feed; the others belong to the server that holds them.
const (
	KindUser        Kind = "user"
	KindGroup       Kind = "group"
	KindRole        Kind = "role"
	KindToken       Kind = "token"
	KindTemplate    Kind = "template"
	KindTemplateVar Kind = "templatevar"
	KindSpace       Kind = "space"
	KindSession     Kind = "session"
	KindLeafToken   Kind = "leaftoken"
	KindTOTP        Kind = "totp"
)

// Kinds lists every kind in a fixed order.
var Kinds = []Kind{KindUser, KindGroup, KindRole, KindToken, KindTemplate, KindTemplateVar, KindSpace, KindSession, KindLeafToken, KindTOTP}

// OriginOwned reports whether records of kind k are owned by the origin and
// replicated to leaves.
func (k Kind) OriginOwned() bool {
	switch k {
	case KindUser, KindGroup, KindRole, KindToken, KindTemplate, KindTemplateVar:
		return true
	}
	return false
}

// Replicated reports whether records of kind k travel in the origin's change
// feed: the origin-owned kinds, and spaces, which the origin passes on from
// the leaf that owns them so that every location can list them.
func (k Kind) Replicated() bool { return k.OriginOwned() || k == KindSpace }

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, v := range Kinds {
		if k == v {
			return true
		}
	}
	return false
}

// Record is a stored domain record. Every write through the store assigns it
// the next revision of that store.
type Record interface {
	RecordKind() Kind
	RecordID() string
	// UniqueKeys returns the secondary keys that must be unique among records
	// of the same kind, for example "email:ann@example.com". Keys are compared
	// as given, so implementations normalise case themselves.
	UniqueKeys() []string
	GetRevision() int64
	SetRevision(int64)
}

// Meta is embedded by every record: its id, revision and timestamps.
type Meta struct {
	ID        string    `json:"id"`
	Revision  int64     `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (m *Meta) RecordID() string      { return m.ID }
func (m *Meta) GetRevision() int64    { return m.Revision }
func (m *Meta) SetRevision(rev int64) { m.Revision = rev }

// Change is one entry of a store's change feed: the latest state of a record
// at Revision, or its tombstone when Deleted is set (Data is then empty).
type Change struct {
	Kind     Kind            `json:"kind"`
	ID       string          `json:"id"`
	Revision int64           `json:"revision"`
	Deleted  bool            `json:"deleted,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
}

// NewRecord returns a new zero record of kind k, or nil for an unknown kind.
func NewRecord(k Kind) Record {
	switch k {
	case KindUser:
		return new(User)
	case KindGroup:
		return new(Group)
	case KindRole:
		return new(Role)
	case KindToken:
		return new(Token)
	case KindTemplate:
		return new(Template)
	case KindTemplateVar:
		return new(TemplateVar)
	case KindSpace:
		return new(Space)
	case KindSession:
		return new(Session)
	case KindLeafToken:
		return new(LeafToken)
	case KindTOTP:
		return new(TOTPState)
	}
	return nil
}

// UniqueKeysOf decodes the record in c and returns its unique keys.
func UniqueKeysOf(c Change) ([]string, error) {
	r := NewRecord(c.Kind)
	if r == nil {
		return nil, Errorf(EINVALID, "unknown record kind %q", c.Kind)
	}
	if err := json.Unmarshal(c.Data, r); err != nil {
		return nil, Wrap(EINVALID, err, "decode %s %s", c.Kind, c.ID)
	}
	if r.RecordID() != c.ID {
		return nil, Errorf(EINVALID, "%s record id %q does not match change id %q", c.Kind, r.RecordID(), c.ID)
	}
	return r.UniqueKeys(), nil
}
