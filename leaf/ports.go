package leaf

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
)

// MaxPortConns bounds the port connections the leaf keeps open to one
// space's agent; one more fails with EUNAVAILABLE saying so.
const MaxPortConns = 256

// PortConn is a connection to a port inside a space, over the agent link
// or relayed to the space's location. Close ends it; CloseWrite ends only
// this side's writing. It counts the bytes each way.
type PortConn struct {
	net.Conn               // a yamux stream, whose Close ends only its writing
	in, out  atomic.Int64  // bytes written to the space, read from it
	slots    chan struct{} // the agent link's port slots; nil when relayed
	once     sync.Once
}

func (c *PortConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.out.Add(int64(n))
	return n, err
}

func (c *PortConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.in.Add(int64(n))
	return n, err
}

// CloseWrite ends this side's writing; the space's program reads EOF.
func (c *PortConn) CloseWrite() error { return c.Conn.Close() }

// Close ends the connection both ways: the space's program reads EOF, and
// reads and writes here fail at once.
func (c *PortConn) Close() error {
	c.once.Do(func() {
		if c.slots != nil {
			<-c.slots
		}
	})
	err := c.Conn.Close()
	c.Conn.SetDeadline(time.Now())
	return err
}

// Bytes returns how many bytes were written to the space and read from it.
func (c *PortConn) Bytes() (toSpace, fromSpace int64) { return c.in.Load(), c.out.Load() }

// DialPort connects to 127.0.0.1:port inside a space through its agent.
// It fails with EUNAVAILABLE when the agent is not linked, does not
// answer or already carries MaxPortConns, and EINVALID with the agent's
// reason when nothing answers on the port.
func (a *Agents) DialPort(ctx context.Context, spaceID string, port int) (*PortConn, error) {
	o := agentwire.Open{Type: agentwire.OpenPort, Port: port}
	if err := o.Validate(); err != nil {
		return nil, shared.Errorf(shared.EINVALID, "%v", err)
	}
	ac := a.get(spaceID)
	if ac == nil {
		return nil, notLinked(spaceID)
	}
	select {
	case ac.ports <- struct{}{}:
	default:
		return nil, shared.Errorf(shared.EUNAVAILABLE, "space %s already has %d forwarded connections open; close some", spaceID, MaxPortConns)
	}
	release := func() { <-ac.ports }
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	st, err := a.open(octx, ac, o)
	if err != nil {
		release()
		return nil, shared.Errorf(shared.EUNAVAILABLE, "the agent of space %s does not answer: %v", spaceID, err)
	}
	if err := openAnswer(st, spaceID, ""); err != nil {
		release()
		return nil, err
	}
	return &PortConn{Conn: st, slots: ac.ports}, nil
}

// openAnswer reads the agent's answer to an open of a stream on st (a
// port or SSH), and clears st's deadline; on an error it closes st. The
// agent's refusal is given after refused, which says what it refused.
func openAnswer(st net.Conn, spaceID, refused string) error {
	var op agentwire.Opened
	if err := agentwire.ReadJSON(st, &op); err != nil {
		st.Close()
		return shared.Errorf(shared.EUNAVAILABLE, "the agent of space %s does not answer: %v", spaceID, err)
	}
	if op.Error != "" {
		st.Close()
		return shared.Errorf(shared.EINVALID, "%s%s", refused, op.Error)
	}
	st.SetDeadline(time.Time{})
	return nil
}

var _ net.Conn = (*PortConn)(nil)
