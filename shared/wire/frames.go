package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/knot-dev/knot/shared"
)

// The frame types, as they appear in the "type" field.
const (
	TypeHello         = "hello"
	TypeWelcome       = "welcome"
	TypeRefusal       = "refusal"
	TypeSnapshot      = "snapshot"
	TypeSnapshotEnd   = "snapshot_end"
	TypeChanges       = "changes"
	TypeAck           = "ack"
	TypeKeepAlive     = "keepalive"
	TypeSpaceReport   = "space_report"
	TypeSpaceAck      = "space_ack"
	TypeCommand       = "command"
	TypeCommandResult = "command_result"
	TypeAuditReport   = "audit_report"
	TypeAuditAck      = "audit_ack"
)

// The welcome modes.
const (
	ModeResume   = "resume"
	ModeSnapshot = "snapshot"
)

// The command actions.
const (
	ActionStart  = "start"
	ActionStop   = "stop"
	ActionDelete = "delete"
	// ActionCreate creates the space the command carries (version 2 on).
	ActionCreate = "create"
)

// Frame is one message of the link. Validate returns an EINVALID
// *shared.Error naming the first field that is missing or out of range.
type Frame interface {
	FrameType() string
	Validate() error
}

// Change is one replicated record at its origin revision, or its tombstone.
// Data is the JSON of the shared record type; it is empty for a tombstone.
type Change struct {
	Kind     shared.Kind     `json:"kind"`
	ID       string          `json:"id"`
	Revision int64           `json:"revision"`
	Deleted  bool            `json:"deleted,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
}

// FromShared converts a change of a store's feed to its wire form.
func FromShared(c shared.Change) Change {
	return Change{Kind: c.Kind, ID: c.ID, Revision: c.Revision, Deleted: c.Deleted, Data: c.Data}
}

// Shared converts c back to a change for storage.Store.Apply.
func (c Change) Shared() shared.Change {
	return shared.Change{Kind: c.Kind, ID: c.ID, Revision: c.Revision, Deleted: c.Deleted, Data: c.Data}
}

// maxIDLength bounds record and frame ids.
const maxIDLength = 256

func (c Change) validate(where string) error {
	switch {
	case !c.Kind.Replicated():
		return invalid("%s: kind %q is not a replicated record kind", where, c.Kind)
	case c.ID == "":
		return invalid("%s: id is missing", where)
	case len(c.ID) > maxIDLength:
		return invalid("%s: id is longer than %d bytes", where, maxIDLength)
	case c.Revision < 0:
		return invalid("%s: revision %d is negative", where, c.Revision)
	case c.Deleted && len(c.Data) > 0:
		return invalid("%s: tombstone of %s %s carries data", where, c.Kind, c.ID)
	case !c.Deleted && !startsObject(c.Data):
		return invalid("%s: %s %s has no record data (a JSON object)", where, c.Kind, c.ID)
	}
	return nil
}

// Hello is the leaf's first frame.
type Hello struct {
	NodeID          string   `json:"node_id"`
	Location        string   `json:"location"`
	Version         string   `json:"version"`
	ProtocolMin     int      `json:"protocol_min"`
	ProtocolMax     int      `json:"protocol_max"`
	Epoch           string   `json:"epoch"`
	AppliedRevision int64    `json:"applied_revision"`
	Runtimes        []string `json:"runtimes"`
}

func (*Hello) FrameType() string { return TypeHello }

func (f *Hello) Validate() error {
	switch {
	case f.NodeID == "":
		return invalid("hello: node_id is missing")
	case len(f.NodeID) > maxIDLength:
		return invalid("hello: node_id is longer than %d bytes", maxIDLength)
	case f.Version == "":
		return invalid("hello: version is missing")
	case f.ProtocolMin < 1:
		return invalid("hello: protocol_min %d is missing or below 1", f.ProtocolMin)
	case f.ProtocolMax < f.ProtocolMin:
		return invalid("hello: protocol_max %d is below protocol_min %d", f.ProtocolMax, f.ProtocolMin)
	case f.AppliedRevision < 0:
		return invalid("hello: applied_revision %d is negative", f.AppliedRevision)
	case f.Epoch == "" && f.AppliedRevision != 0:
		return invalid("hello: applied_revision %d without an epoch", f.AppliedRevision)
	}
	return f.checkBounds()
}

// Welcome accepts a leaf. Location is the location the leaf serves: its own
// for a trusted leaf, its owner's username for a restricted one. Head is the
// origin's current revision, for the leaf's view of its lag. AckIntervalMS
// (protocol 4) is how often, in milliseconds, the origin asks the leaf's
// acks to go out at most; see Acker.SetInterval.
type Welcome struct {
	Protocol      int    `json:"protocol"`
	Epoch         string `json:"epoch"`
	Restricted    bool   `json:"restricted"`
	Location      string `json:"location"`
	Mode          string `json:"mode"`
	Head          int64  `json:"head"`
	AckIntervalMS int64  `json:"ack_interval_ms,omitempty"`
}

func (*Welcome) FrameType() string { return TypeWelcome }

func (f *Welcome) Validate() error {
	switch {
	case f.Protocol < 1:
		return invalid("welcome: protocol %d is missing or below 1", f.Protocol)
	case f.Epoch == "":
		return invalid("welcome: epoch is missing")
	case f.Location == "":
		return invalid("welcome: location is missing")
	case f.Mode != ModeResume && f.Mode != ModeSnapshot:
		return invalid("welcome: mode %q is neither %q nor %q", f.Mode, ModeResume, ModeSnapshot)
	case f.Head < 0:
		return invalid("welcome: head %d is negative", f.Head)
	case f.AckIntervalMS < 0:
		return invalid("welcome: ack_interval_ms %d is negative", f.AckIntervalMS)
	}
	return nil
}

// Refusal turns a leaf away after its hello. Retryable is false when trying
// again cannot help until someone changes a configuration (no common
// protocol, a location the credential does not allow); the leaf then retries
// slowly.
type Refusal struct {
	Reason    string `json:"reason"`
	Retryable bool   `json:"retryable"`
}

func (*Refusal) FrameType() string { return TypeRefusal }

func (f *Refusal) Validate() error {
	if f.Reason == "" {
		return invalid("refusal: reason is missing")
	}
	return nil
}

// Snapshot carries part of a full snapshot of the leaf's view at Revision.
type Snapshot struct {
	Revision int64    `json:"revision"`
	Records  []Change `json:"records"`
}

func (*Snapshot) FrameType() string { return TypeSnapshot }

func (f *Snapshot) Validate() error {
	if f.Revision < 0 {
		return invalid("snapshot: revision %d is negative", f.Revision)
	}
	for i, c := range f.Records {
		if c.Deleted {
			return invalid("snapshot: record %d is a tombstone", i)
		}
		if err := c.validate(fmt.Sprintf("snapshot: record %d", i)); err != nil {
			return err
		}
	}
	return nil
}

// SnapshotEnd closes a snapshot: Count records in all at Revision.
type SnapshotEnd struct {
	Revision int64 `json:"revision"`
	Count    int   `json:"count"`
}

func (*SnapshotEnd) FrameType() string { return TypeSnapshotEnd }

func (f *SnapshotEnd) Validate() error {
	switch {
	case f.Revision < 0:
		return invalid("snapshot_end: revision %d is negative", f.Revision)
	case f.Count < 0:
		return invalid("snapshot_end: count %d is negative", f.Count)
	}
	return nil
}

// Changes takes a replica from revision Prev to Revision.
type Changes struct {
	Prev     int64    `json:"prev"`
	Revision int64    `json:"revision"`
	Changes  []Change `json:"changes"`
}

func (*Changes) FrameType() string { return TypeChanges }

func (f *Changes) Validate() error {
	switch {
	case f.Prev < 0:
		return invalid("changes: prev %d is negative", f.Prev)
	case f.Revision <= f.Prev:
		return invalid("changes: revision %d is missing or not above prev %d", f.Revision, f.Prev)
	}
	for i, c := range f.Changes {
		if err := c.validate(fmt.Sprintf("changes: change %d", i)); err != nil {
			return err
		}
	}
	return nil
}

// Ack tells the origin the revision the leaf has applied.
type Ack struct {
	Applied int64 `json:"applied"`
}

func (*Ack) FrameType() string { return TypeAck }

func (f *Ack) Validate() error {
	if f.Applied < 0 {
		return invalid("ack: applied %d is negative", f.Applied)
	}
	return nil
}

// KeepAlive is sent by the origin when it has nothing else to say. It has no
// revision; Head is the origin's current revision. AckIntervalMS is the
// welcome's, as the origin would now set it.
type KeepAlive struct {
	Head          int64 `json:"head"`
	AckIntervalMS int64 `json:"ack_interval_ms,omitempty"`
}

func (*KeepAlive) FrameType() string { return TypeKeepAlive }

func (f *KeepAlive) Validate() error {
	switch {
	case f.Head < 0:
		return invalid("keepalive: head %d is negative", f.Head)
	case f.AckIntervalMS < 0:
		return invalid("keepalive: ack_interval_ms %d is negative", f.AckIntervalMS)
	}
	return nil
}

// SpaceReport carries the state of one of the leaf's spaces at the leaf's own
// revision LeafRevision: Space is the JSON of shared.Space, empty when
// Deleted.
type SpaceReport struct {
	LeafRevision int64           `json:"leaf_revision"`
	SpaceID      string          `json:"space_id"`
	Deleted      bool            `json:"deleted,omitempty"`
	Space        json.RawMessage `json:"space,omitempty"`
}

func (*SpaceReport) FrameType() string { return TypeSpaceReport }

func (f *SpaceReport) Validate() error {
	switch {
	case f.LeafRevision < 1:
		return invalid("space_report: leaf_revision %d is missing or below 1", f.LeafRevision)
	case f.SpaceID == "":
		return invalid("space_report: space_id is missing")
	case len(f.SpaceID) > maxIDLength:
		return invalid("space_report: space_id is longer than %d bytes", maxIDLength)
	case f.Deleted && len(f.Space) > 0:
		return invalid("space_report: deleted space %s carries data", f.SpaceID)
	case len(f.Space) > MaxSpaceSize:
		return invalid("space_report: space is %d bytes, longer than %d", len(f.Space), MaxSpaceSize)
	case !f.Deleted && !isObject(f.Space):
		return invalid("space_report: space %s has no data (a JSON object)", f.SpaceID)
	}
	return nil
}

// SpaceAck acknowledges the report at LeafRevision. Code and Message are set
// when the origin refused it (a shared error code and its message); the
// leaf does not send it again.
type SpaceAck struct {
	LeafRevision int64  `json:"leaf_revision"`
	Code         string `json:"code,omitempty"`
	Message      string `json:"message,omitempty"`
}

func (*SpaceAck) FrameType() string { return TypeSpaceAck }

func (f *SpaceAck) Validate() error {
	if f.LeafRevision < 1 {
		return invalid("space_ack: leaf_revision %d is missing or below 1", f.LeafRevision)
	}
	return nil
}

// Command asks the leaf to act on one of its spaces. Space is the JSON of
// the shared.Space to create, for ActionCreate only.
type Command struct {
	ID      string          `json:"id"`
	Action  string          `json:"action"`
	SpaceID string          `json:"space_id"`
	Space   json.RawMessage `json:"space,omitempty"`
}

func (*Command) FrameType() string { return TypeCommand }

func (f *Command) Validate() error {
	switch {
	case f.ID == "":
		return invalid("command: id is missing")
	case len(f.ID) > maxIDLength:
		return invalid("command: id is longer than %d bytes", maxIDLength)
	case f.Action != ActionStart && f.Action != ActionStop && f.Action != ActionDelete && f.Action != ActionCreate:
		return invalid("command: action %q is not one of %s, %s, %s, %s", f.Action, ActionStart, ActionStop, ActionDelete, ActionCreate)
	case f.SpaceID == "":
		return invalid("command: space_id is missing")
	case f.Action == ActionCreate && !isObject(f.Space):
		return invalid("command: create of space %s carries no space (a JSON object)", f.SpaceID)
	case f.Action != ActionCreate && len(f.Space) > 0:
		return invalid("command: %s of space %s carries a space", f.Action, f.SpaceID)
	}
	return nil
}

// CommandResult answers the command ID: Code is empty on success, else a
// shared error code with its Message.
type CommandResult struct {
	ID      string `json:"id"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

func (*CommandResult) FrameType() string { return TypeCommandResult }

func (f *CommandResult) Validate() error {
	if f.ID == "" {
		return invalid("command_result: id is missing")
	}
	return firstErr(
		checkLen("command_result", "id", f.ID, maxIDLength),
		checkLen("command_result", "code", f.Code, MaxCodeLength),
		checkLen("command_result", "message", f.Message, MaxMessageLength),
	)
}

// MaxAuditEvents is the largest number of events one AuditReport holds.
const MaxAuditEvents = 500

// AuditEvent is one audit event recorded at a leaf; ID is its id in the
// leaf's store. The origin records it with the leaf's location.
type AuditEvent struct {
	ID         int64             `json:"id"`
	At         time.Time         `json:"at"`
	Actor      string            `json:"actor"`
	ActorType  string            `json:"actor_type"`
	Event      string            `json:"event"`
	Details    string            `json:"details"`
	Properties map[string]string `json:"properties,omitempty"`
}

// AuditReport carries audit events of the leaf store named by Store (its
// epoch), in rising id order. A report without events asks for the ack
// only.
type AuditReport struct {
	Store  string       `json:"store"`
	Events []AuditEvent `json:"events,omitempty"`
}

func (*AuditReport) FrameType() string { return TypeAuditReport }

func (f *AuditReport) Validate() error {
	switch {
	case f.Store == "":
		return invalid("audit_report: store is missing")
	case len(f.Store) > MaxEpochLength:
		return invalid("audit_report: store is %d bytes, longer than %d", len(f.Store), MaxEpochLength)
	case len(f.Events) > MaxAuditEvents:
		return invalid("audit_report: %d events, more than %d", len(f.Events), MaxAuditEvents)
	}
	var prev int64
	for i, e := range f.Events {
		switch {
		case e.ID <= prev:
			return invalid("audit_report: event %d has id %d, not above %d", i, e.ID, prev)
		case e.Event == "":
			return invalid("audit_report: event %d has no event name", i)
		}
		if err := e.checkBounds(i); err != nil {
			return err
		}
		prev = e.ID
	}
	return nil
}

// AuditAck tells the leaf that the origin holds every event of Store up to
// the id Upto. Code and Message are set when the origin failed to store an
// event; the leaf sends the events after Upto again later.
type AuditAck struct {
	Store   string `json:"store"`
	Upto    int64  `json:"upto"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

func (*AuditAck) FrameType() string { return TypeAuditAck }

func (f *AuditAck) Validate() error {
	switch {
	case f.Store == "":
		return invalid("audit_ack: store is missing")
	case f.Upto < 0:
		return invalid("audit_ack: upto %d is negative", f.Upto)
	}
	return nil
}

// newFrame returns a zero frame of type t, or nil for an unknown type.
func newFrame(t string) Frame {
	switch t {
	case TypeHello:
		return new(Hello)
	case TypeWelcome:
		return new(Welcome)
	case TypeRefusal:
		return new(Refusal)
	case TypeSnapshot:
		return new(Snapshot)
	case TypeSnapshotEnd:
		return new(SnapshotEnd)
	case TypeChanges:
		return new(Changes)
	case TypeAck:
		return new(Ack)
	case TypeKeepAlive:
		return new(KeepAlive)
	case TypeSpaceReport:
		return new(SpaceReport)
	case TypeSpaceAck:
		return new(SpaceAck)
	case TypeCommand:
		return new(Command)
	case TypeCommandResult:
		return new(CommandResult)
	case TypeAuditReport:
		return new(AuditReport)
	case TypeAuditAck:
		return new(AuditAck)
	case TypeAgentStates:
		return new(AgentStates)
	}
	return nil
}

// Encode validates f and returns its JSON with the type field first.
func Encode(f Frame) ([]byte, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(f)
	if err != nil {
		return nil, shared.Wrap(shared.EINTERNAL, err, "wire: encode %s", f.FrameType())
	}
	out := make([]byte, 0, len(body)+len(f.FrameType())+12)
	out = append(out, `{"type":"`...)
	out = append(out, f.FrameType()...)
	out = append(out, '"')
	if len(body) > 2 {
		out = append(out, ',')
	}
	out = append(out, body[1:]...)
	if len(out) > MaxFrameSize {
		return nil, shared.Errorf(shared.ETOOLARGE, "wire: %s frame of %d bytes is over the limit of %d", f.FrameType(), len(out), MaxFrameSize)
	}
	return out, nil
}

// Decode parses and validates one frame. It returns ETOOLARGE for a frame
// over MaxFrameSize and EINVALID for anything that is not a valid frame:
// not a JSON object, an unknown or missing type, a field of the wrong type,
// a missing field, a negative revision. Unknown fields are ignored.
//
// encoding/json checks the whole frame, the records in it included, once;
// a frame that begins as Encode writes it, with its type, is read in that
// one pass. (A frame with the key "type" twice is read as the first.)
func Decode(b []byte) (Frame, error) {
	if len(b) > MaxFrameSize {
		return nil, shared.Errorf(shared.ETOOLARGE, "wire: frame of %d bytes is over the limit of %d", len(b), MaxFrameSize)
	}
	typ, ok := leadingType(b)
	if !ok {
		if !isObject(b) {
			return nil, invalid("frame is not a JSON object")
		}
		var env struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			return nil, shared.Wrap(shared.EINVALID, err, "wire: frame is not valid JSON")
		}
		typ = env.Type
	}
	if typ == "" {
		return nil, invalid("frame has no type")
	}
	f := newFrame(typ)
	if f == nil {
		return nil, invalid("unknown frame type %.64q", typ)
	}
	if err := json.Unmarshal(b, f); err != nil {
		if syntax := new(json.SyntaxError); errors.As(err, &syntax) {
			return nil, invalid("frame is not a JSON object")
		}
		return nil, shared.Wrap(shared.EINVALID, err, "wire: %s frame does not decode", typ)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// leadingType returns the type of a frame that begins {"type":"NAME", as
// Encode writes it, NAME holding no escape.
func leadingType(b []byte) (string, bool) {
	const prefix = `{"type":"`
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return "", false
	}
	rest := b[len(prefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return "", false
	}
	return string(rest[:end]), true
}

func isObject(b []byte) bool {
	return startsObject(b) && json.Valid(b)
}

// startsObject reports whether b begins as a JSON object does. It is how
// a change's data is checked: encoding/json has checked the data of a
// decoded frame as part of the frame, and checks the data of a frame it
// encodes, so a second full pass over every record would only cost time.
func startsObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

func invalid(format string, args ...any) *shared.Error {
	return shared.Errorf(shared.EINVALID, "wire: "+format, args...)
}
