package origin

import (
	"testing"

	"github.com/knot-dev/knot/shared/wire"
)

func TestQuickAckReadsOnlyWhatALeafWrites(t *testing.T) {
	enc := func(f wire.Frame) []byte {
		b, err := wire.Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tt := range []struct {
		name  string
		frame []byte
		want  int64
		ok    bool
	}{
		{"ZeroAck", enc(&wire.Ack{Applied: 0}), 0, true},
		{"Ack", enc(&wire.Ack{Applied: 12345}), 12345, true},
		{"LargestRevision", enc(&wire.Ack{Applied: 999999999999999999}), 999999999999999999, true},
		{"TooManyDigitsIsLeftToDecode", []byte(`{"type":"ack","applied":9999999999999999999}`), 0, false},
		{"NegativeIsLeftToDecode", []byte(`{"type":"ack","applied":-1}`), 0, false},
		{"SpacesAreLeftToDecode", []byte(`{"type":"ack", "applied":1}`), 0, false},
		{"MoreFieldsAreLeftToDecode", []byte(`{"type":"ack","applied":1,"x":2}`), 0, false},
		{"NoDigitsIsLeftToDecode", []byte(`{"type":"ack","applied":}`), 0, false},
		{"OtherFramesAreLeftToDecode", enc(&wire.KeepAlive{Head: 3}), 0, false},
		{"TruncatedIsLeftToDecode", []byte(`{"type":"ack","applied":1`), 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := quickAck(tt.frame)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("quickAck(%s) = %d, %v; want %d, %v", tt.frame, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestAckIntervalKeepsTheFleetsAcksBounded(t *testing.T) {
	for _, tt := range []struct {
		leaves int
		want   int64
	}{
		{0, 1000}, {1, 1000}, {ackRate, 1000}, {ackRate + ackRate/2, 1500},
		{10000, 5000}, {60000, 30000}, {1000000, 30000},
	} {
		if got := ackInterval(tt.leaves); got != tt.want {
			t.Errorf("ackInterval(%d) = %d ms, want %d", tt.leaves, got, tt.want)
		}
		if rate := float64(tt.leaves) * 1000 / float64(ackInterval(tt.leaves)); tt.leaves <= 60000 && rate > ackRate {
			t.Errorf("%d leaves acking every %d ms send %.0f acks a second, over %d", tt.leaves, ackInterval(tt.leaves), rate, ackRate)
		}
	}
}
