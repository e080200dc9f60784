package crypt_test

import (
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared/crypt"
)

func TestSealOpen(t *testing.T) {
	s, err := crypt.NewSealer(crypt.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal("hunter2")
	if strings.Contains(sealed, "hunter2") || !crypt.IsSealed(sealed) {
		t.Fatalf("sealed value %q leaks or lacks prefix", sealed)
	}
	if got, err := s.Open(sealed); err != nil || got != "hunter2" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if s.Seal("x") == s.Seal("x") {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
	other, _ := crypt.NewSealer(crypt.GenerateKey())
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("opened with the wrong key")
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := s.Open(tampered); err == nil {
		t.Fatal("opened a tampered value")
	}
	for _, bad := range []string{"", "plain", "sealed:v1:!!", "sealed:v1:AAAA"} {
		if _, err := s.Open(bad); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

func TestNewSealerKeyLength(t *testing.T) {
	if _, err := crypt.NewSealer("short"); err == nil || !strings.Contains(err.Error(), "32 characters") {
		t.Fatalf("err = %v", err)
	}
}

func TestPassword(t *testing.T) {
	h, err := crypt.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !crypt.CheckPassword(h, "correct horse") || crypt.CheckPassword(h, "wrong horse") {
		t.Fatal("password check is wrong")
	}
	if _, err := crypt.HashPassword(strings.Repeat("x", 73)); err == nil {
		t.Fatal("accepted a password bcrypt would truncate")
	}
}

func TestTokens(t *testing.T) {
	a, b := crypt.NewToken(), crypt.NewToken()
	if a == b || len(a) != 43 {
		t.Fatalf("tokens %q %q", a, b)
	}
	if crypt.HashToken(a) == crypt.HashToken(b) || len(crypt.HashToken(a)) != 64 {
		t.Fatal("bad token hash")
	}
	if !crypt.Equal(a, a) || crypt.Equal(a, b) {
		t.Fatal("Equal is wrong")
	}
	if k := crypt.GenerateKey(); len(k) != 32 {
		t.Fatalf("key %q", k)
	}
}
