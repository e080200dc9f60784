package config

import (
	"errors"
	"strconv"
	"strings"
)

// tSize is an amount of bytes: a whole number with an optional unit, such
// as 256MiB.
var tSize = &valueType{kind: ValueString, name: "size (such as 256MiB)", check: checkSize}

// sizeUnits are the units ParseSize takes, longest first; the binary and
// decimal ones differ, as everywhere else.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ParseSize reads an amount of bytes: a whole number, optionally followed
// by B, KiB, MiB, GiB, TiB (powers of 1024; K, M, G and T too) or KB, MB,
// GB, TB (powers of 1000), in any case.
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("must be a whole number of bytes, optionally with a unit: 0, 512MiB, 2GiB, 500MB")
	}
	if n > 0 && mult > (1<<62)/n {
		return 0, errors.New("is too big")
	}
	return n * mult, nil
}

func checkSize(s string) (string, error) {
	if _, err := ParseSize(s); err != nil {
		return "", err
	}
	return strings.TrimSpace(s), nil
}

// MinFreeBytes is server.badgerdb.min_free in bytes. Load checked it.
func (b BadgerDB) MinFreeBytes() int64 {
	n, _ := ParseSize(b.MinFree)
	return n
}
