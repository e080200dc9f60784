package wire

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The bounds of the fields of the frames a leaf sends. An origin holds what
// its leaves tell it (the fleet view, audit positions, space records) for
// as long as it runs, and any leaf credential, a user's API token included,
// may send these frames: every field is bounded, so that no leaf can make
// the origin hold more than a few kilobytes per frame it keeps. A frame
// over a bound does not decode, with an error that names the field and the
// bound; the origin closes the link with it. Encode checks the same, so a
// leaf finds out before it sends.
const (
	// MaxLocationLength bounds a hello's location.
	MaxLocationLength = 256
	// MaxVersionLength bounds a hello's version.
	MaxVersionLength = 64
	// MaxEpochLength bounds an epoch: a hello's, and an audit report's store.
	MaxEpochLength = 128
	// MaxRuntimes bounds how many runtimes a hello lists, and
	// MaxRuntimeLength the name of each.
	MaxRuntimes      = 8
	MaxRuntimeLength = 32
	// MaxProtocol bounds the protocol versions a hello announces.
	MaxProtocol = 1 << 16
	// MaxSpaceSize bounds the JSON of the space a space report carries.
	MaxSpaceSize = 256 << 10
	// MaxCodeLength bounds an error code of a command result, and
	// MaxMessageLength its message.
	MaxCodeLength    = 64
	MaxMessageLength = 4096
	// The bounds of one audit event: its actor, actor type, event name,
	// details, and its properties (how many, and each name and value).
	MaxAuditActorLength     = 256
	MaxAuditActorTypeLength = 64
	MaxAuditEventLength     = 256
	MaxAuditDetailsLength   = 4096
	MaxAuditProperties      = 32
	MaxAuditPropertyName    = 64
	MaxAuditPropertyValue   = 1024
)

// checkLen returns the error of a field longer than limit bytes.
func checkLen(where, field, v string, limit int) error {
	if len(v) > limit {
		return invalid("%s: %s is %d bytes, longer than %d", where, field, len(v), limit)
	}
	return nil
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (f *Hello) checkBounds() error {
	if err := firstErr(
		checkLen("hello", "location", f.Location, MaxLocationLength),
		checkLen("hello", "version", f.Version, MaxVersionLength),
		checkLen("hello", "epoch", f.Epoch, MaxEpochLength),
	); err != nil {
		return err
	}
	if f.ProtocolMax > MaxProtocol {
		return invalid("hello: protocol_max %d is above %d", f.ProtocolMax, MaxProtocol)
	}
	if len(f.Runtimes) > MaxRuntimes {
		return invalid("hello: runtimes has %d entries, more than %d", len(f.Runtimes), MaxRuntimes)
	}
	for i, r := range f.Runtimes {
		if r == "" {
			return invalid("hello: runtime %d is empty", i)
		}
		if err := checkLen("hello", "runtime "+strconv.Itoa(i), r, MaxRuntimeLength); err != nil {
			return err
		}
	}
	return nil
}

func (e *AuditEvent) checkBounds(i int) error {
	where := "audit_report: event " + strconv.Itoa(i)
	if err := firstErr(
		checkLen(where, "actor", e.Actor, MaxAuditActorLength),
		checkLen(where, "actor_type", e.ActorType, MaxAuditActorTypeLength),
		checkLen(where, "event", e.Event, MaxAuditEventLength),
		checkLen(where, "details", e.Details, MaxAuditDetailsLength),
	); err != nil {
		return err
	}
	if len(e.Properties) > MaxAuditProperties {
		return invalid("%s: properties has %d entries, more than %d", where, len(e.Properties), MaxAuditProperties)
	}
	for k, v := range e.Properties {
		if len(k) > MaxAuditPropertyName {
			return invalid("%s: property name %.32q... is %d bytes, longer than %d", where, k, len(k), MaxAuditPropertyName)
		}
		if err := checkLen(where, "property "+k, v, MaxAuditPropertyValue); err != nil {
			return err
		}
	}
	return nil
}

// Clipped returns e cut to the bounds of an audit event, as they are once
// the event went through JSON (which turns each invalid UTF-8 byte into
// U+FFFD): long texts end in "...", and of too many properties the first by
// name are kept, a property whose name is too long is dropped. A leaf sends
// its events clipped, so that no event it recorded keeps its link from
// carrying the others.
func (e AuditEvent) Clipped() AuditEvent {
	e.Actor = clip(e.Actor, MaxAuditActorLength)
	e.ActorType = clip(e.ActorType, MaxAuditActorTypeLength)
	e.Event = clip(e.Event, MaxAuditEventLength)
	e.Details = clip(e.Details, MaxAuditDetailsLength)
	if len(e.Properties) == 0 {
		return e
	}
	names := make([]string, 0, len(e.Properties))
	for k := range e.Properties {
		if len(valid(k)) <= MaxAuditPropertyName {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	props := make(map[string]string, min(len(names), MaxAuditProperties))
	for _, k := range names[:min(len(names), MaxAuditProperties)] {
		props[valid(k)] = clip(e.Properties[k], MaxAuditPropertyValue)
	}
	e.Properties = props
	return e
}

// valid returns s as JSON carries it: each invalid UTF-8 byte is U+FFFD.
func valid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // utf8.RuneError for an invalid byte
		i += n
	}
	return b.String()
}

// clip returns valid(s) cut to at most n bytes, on a rune boundary and
// ending in "..." when it cut.
func clip(s string, n int) string {
	s = valid(s)
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// CloseRateLimited is the close code of a link on which the leaf sent more
// than the origin takes from one link (see the bounds of origin's links).
const CloseRateLimited = 4007
