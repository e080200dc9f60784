package web_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared/wire"
)

// A leaf that sends its hello in the same packet as its upgrade request is
// answered: the bytes that came with the request survive the handover of
// the connection to the link.
func TestLeafLinkKeepsBytesSentWithTheUpgrade(t *testing.T) {
	f := newFleet(t)
	addr := strings.TrimPrefix(f.originSW.srv.URL, "http://")
	hello, err := wire.Encode(&wire.Hello{NodeID: "early-node", Location: "early", Version: "test", ProtocolMin: wire.ProtocolMin, ProtocolMax: wire.ProtocolMax})
	if err != nil {
		t.Fatal(err)
	}
	req := "GET " + wire.Path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: " + wire.Subprotocol + "\r\nAuthorization: Bearer " + fleetToken + "\r\n\r\n"
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(append([]byte(req), clientFrame(hello)...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %s", resp.Status)
	}
	b, err := serverFrame(br)
	if err != nil {
		t.Fatalf("reading the first frame: %v", err)
	}
	fr, err := wire.Decode(b)
	if err != nil {
		t.Fatalf("first frame %.200s: %v", b, err)
	}
	if w, ok := fr.(*wire.Welcome); !ok || w.Location != "early" {
		t.Fatalf("first frame is %.200s, want the welcome of location early", b)
	}
}

// clientFrame is p as a final, masked text frame.
func clientFrame(p []byte) []byte {
	mask := [4]byte{1, 2, 3, 4}
	b := []byte{0x81}
	switch {
	case len(p) < 126:
		b = append(b, 0x80|byte(len(p)))
	case len(p) <= 0xffff:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(len(p)))
	}
	b = append(b, mask[:]...)
	for i, c := range p {
		b = append(b, c^mask[i%4])
	}
	return b
}

// serverFrame reads one unmasked, unfragmented frame and returns its
// payload.
func serverFrame(r io.Reader) ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	if h[0]&0x80 == 0 || h[1]&0x80 != 0 {
		return nil, fmt.Errorf("frame header %x: want a final, unmasked frame", h)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var x [2]byte
		if _, err := io.ReadFull(r, x[:]); err != nil {
			return nil, err
		}
		n = uint64(binary.BigEndian.Uint16(x[:]))
	case 127:
		var x [8]byte
		if _, err := io.ReadFull(r, x[:]); err != nil {
			return nil, err
		}
		n = binary.BigEndian.Uint64(x[:])
	}
	if n > wire.MaxFrameSize {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}
