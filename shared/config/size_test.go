package config_test

import (
	"testing"

	"github.com/knot-dev/knot/shared/config"
)

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"512", 512, true},
		{"256MiB", 256 << 20, true},
		{"256 mib", 256 << 20, true},
		{"2G", 2 << 30, true},
		{"500MB", 500e6, true},
		{"1TiB", 1 << 40, true},
		{"-1", 0, false},
		{"1.5GiB", 0, false},
		{"lots", 0, false},
		{"99999999999TiB", 0, false},
	} {
		got, err := config.ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
