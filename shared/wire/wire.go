// Package wire holds every frame of the replication link between an origin
// and its leaves, and the one version log of that protocol. The origin and
// the leaf never import each other; they meet here.
//
// The link is a websocket on GET /api/leaf-server with the subprotocol
// knot-leaf.v1 and "Authorization: Bearer <credential>". Every message is one
// text frame holding a JSON object whose "type" field names the frame.
//
// Protocol flow:
//
//   - The leaf opens the websocket. A refused credential gets HTTP 401 with a
//     reason before any frame.
//   - Leaf → origin: Hello{node id, location, version, protocol range, epoch,
//     applied revision, runtimes}. Epoch and applied revision are the replica
//     state that the leaf stored atomically with the records it applied.
//   - Origin → leaf: Refusal{reason, retryable} and a close, when there is no
//     common protocol, the location is taken by another node, or the
//     credential does not allow the location. The leaf keeps retrying with
//     backoff and never exits because of it.
//   - Origin → leaf: Welcome{protocol, epoch, restricted, location, mode,
//     head}. Protocol is the highest version both sides speak. Mode "resume"
//     means the leaf's epoch matched and its applied revision is at or above
//     the origin's tombstone horizon: only later changes follow. Mode
//     "snapshot" means the leaf must start over.
//   - Snapshot mode only: Snapshot{revision, records} frames, then
//     SnapshotEnd{revision, count}. The leaf keeps the records aside and, at
//     SnapshotEnd, replaces its whole replica with them in one transaction:
//     every replicated record the snapshot did not contain is deleted, and
//     its replica state becomes {welcome epoch, revision}. A link that breaks
//     before SnapshotEnd leaves the replica untouched.
//   - Origin → leaf, from then on: Changes{prev, revision, changes}. A frame
//     takes the replica from revision prev to revision; it carries the latest
//     state of each record of the leaf's view changed in between, and a
//     tombstone for each record deleted or gone out of the view. The changes
//     list may be empty (the revisions in between touched nothing the leaf
//     sees). The leaf applies a frame atomically with its revision, ignores a
//     frame whose revision it already applied, and closes the link when prev
//     is not the revision it holds.
//   - Leaf → origin: Ack{applied}, the revision the leaf has applied: at once
//     for the snapshot's end, then at most about once a second, holding
//     every frame applied until then. The origin shows it in its view of
//     the fleet and waits for no ack.
//   - Origin → leaf: KeepAlive{head} when idle; it has no revision. The origin
//     also sends websocket pings and measures the round trip with them; the
//     leaf ends a link on which it heard nothing for its idle timeout.
//   - Leaf → origin: SpaceReport{leaf revision, space id, space or deleted}
//     for each change to one of the leaf's spaces, in the order of the leaf's
//     own revisions, re-sent after a reconnect until acknowledged. The origin
//     stores it idempotently and answers SpaceAck{leaf revision, error}.
//   - Origin → leaf: Command{id, action, space id} (start, stop or delete one
//     of the leaf's spaces; from version 2 also create, carrying the space);
//     the leaf answers CommandResult{id, code, message}.
//   - Version 2 on: Leaf → origin: AuditReport{store, events}: the audit
//     events recorded at the leaf, in the order of their ids in the leaf's
//     store (named by that store's epoch). The first report of a link holds
//     no events: it asks how far the origin already holds that store's
//     events. The origin stores each event once, with the leaf's location,
//     and answers AuditAck{store, upto}; the leaf sends the next report only
//     after the ack of the one before.
//   - Version 5 on: Leaf → origin: AgentStates{reset, agents}: the first
//     (reset) holds every agent linked to the leaf, later ones what changed
//     since (at most about once a second) and, every AgentRefresh, the
//     linked agents again. The origin keeps them in memory per location,
//     only for spaces of the leaf's location, and answers nothing.
//   - Version 6 on: Origin → leaf: AgentStates{location, server, reset,
//     unlinked, agents}: the agents of every other location's spaces, as
//     their leaves reported them: every location at the start of the link,
//     then what changed, at most about once a second.
//   - Either side closes the link with a websocket close code and a reason
//     when a frame is malformed, too large, out of order or unexpected;
//     nothing of such a frame is applied. Every field of a frame a leaf
//     sends is bounded (limits.go): a frame over a bound does not decode.
//
// Records travel as Change{kind, id, revision, deleted, data}, where data is
// the JSON encoding of the shared record type (its json tags). The JSON names
// of replicated fields are therefore part of this protocol: renaming or
// changing the meaning of one is a protocol bump, recorded below.
package wire

import (
	"net/url"
	"strings"

	"github.com/knot-dev/knot/shared"
)

// The protocol versions this build speaks. Bump ProtocolMax for every change
// in meaning, even when the JSON shape stays the same, and add a dated line:
//
//   - 1: 2026-03-01: first version: hello/welcome/refusal, resume or
//     snapshot by {epoch, applied revision}, changes chained by prev,
//     keep-alive, acks, space reports, commands.
//   - 2: 2026-11-24: audit events of the leaf travel to the origin
//     (AuditReport, AuditAck); Command{action: "create", space} creates a
//     space on the leaf. Neither side sends these to a peer on version 1.
//   - 3: 2026-11-24: the feed also carries the spaces of every location
//     (without their agent token hash), so that each leaf lists them; a
//     leaf keeps those of other locations and ignores its own. A peer on
//     version 2 or older gets no spaces.
//   - 4: 2026-11-24: the welcome and keep-alives carry ack_interval_ms, how
//     often the origin asks the leaf's acks to go out at most: AckInterval,
//     or longer in a fleet of thousands of leaves. A leaf on version 3 or
//     older acks every AckInterval.
//   - 5: 2026-12-07: leaf → origin AgentStates{reset, agents}: the state of
//     the agents of the leaf's spaces (linked, version, last seen), so that
//     the origin shows it for every location's spaces. A leaf sends none to
//     an origin on version 4 or older.
//   - 6: 2026-12-07: origin → leaf AgentStates{location, server, reset,
//     unlinked, agents}: the agents of the other locations' spaces, so
//     that every leaf shows them. The origin sends none to a leaf on
//     version 5 or older; a leaf's own agent states name no location.
//     Space records carry sshd_host_keys, the host keys of the image's own
//     sshd that the space's agent reported; an older peer drops them, and
//     knot ssh-config at its servers writes the space's own key alone.
const ProtocolMin, ProtocolMax = 1, 6

// Subprotocol is the websocket subprotocol of the link.
const Subprotocol = "knot-leaf.v1"

// Path is where the origin serves the link.
const Path = "/api/leaf-server"

// MaxFrameSize is the largest frame either side accepts, in bytes. Senders
// keep snapshot and change frames well below it.
const MaxFrameSize = 8 << 20

// Negotiate returns the highest protocol version in both ranges, or false
// when they do not overlap.
func Negotiate(min1, max1, min2, max2 int) (int, bool) {
	v := min(max1, max2)
	if v < max(min1, min2) {
		return 0, false
	}
	return v, true
}

// Websocket close codes of the link, beside the standard ones (1001 when a
// side shuts down, 1009 for a frame over MaxFrameSize). The close reason
// says more.
const (
	CloseMalformed  = 4000 // a frame did not decode, or was not expected now
	CloseRefused    = 4001 // sent after a Refusal frame
	CloseOutOfOrder = 4002 // a change frame did not follow the applied revision
	CloseRevoked    = 4003 // the credential was revoked, expired or lost its owner
	CloseReplaced   = 4004 // a newer connection of the same leaf node took over
	CloseStartOver  = 4005 // the origin's store changed; reconnect for a snapshot
	CloseTimeout    = 4006 // the peer did not answer a ping or sent nothing for too long
	CloseInternal   = 4010 // a failure of the closing side's store
)

// MaxCloseReason is the longest close reason a websocket close frame holds.
const MaxCloseReason = 123

// CloseReason shortens s to fit a close frame.
func CloseReason(s string) string {
	if len(s) <= MaxCloseReason {
		return s
	}
	return strings.ToValidUTF8(s[:MaxCloseReason-3], "") + "..."
}

// Endpoint turns an origin URL (http://, https://, ws:// or wss://, with an
// optional path prefix) into the websocket URL of its leaf endpoint. Errors
// are EINVALID and quote the URL.
func Endpoint(origin string) (string, error) {
	u, err := url.Parse(origin)
	if err != nil {
		return "", shared.Errorf(shared.EINVALID, "the origin URL %.200q does not parse: %v", origin, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", shared.Errorf(shared.EINVALID, "the origin URL %.200q must start with http://, https://, ws:// or wss://", origin)
	}
	if u.Host == "" {
		return "", shared.Errorf(shared.EINVALID, "the origin URL %.200q has no host", origin)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + Path
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String(), nil
}
