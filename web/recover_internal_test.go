package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/knot-dev/knot/storage/memory"
)

// The recoverer is a last resort: no route may reach it, so this test wraps
// a handler that panics on purpose.
func TestPanicBecomesLogged500(t *testing.T) {
	var logs bytes.Buffer
	s, err := NewTest(TestOptions{Store: memory.New(), Location: "home", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := s.instrument(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	if w.Code != http.StatusInternalServerError || strings.TrimSpace(w.Body.String()) != `{"error":"internal error"}` {
		t.Fatalf("panic answered %d %s", w.Code, w.Body)
	}
	if !strings.Contains(logs.String(), "boom") || !strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

func TestInternalErrorsHideTheirCause(t *testing.T) {
	var logs bytes.Buffer
	s, err := NewTest(TestOptions{Store: memory.New(), Location: "home", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	s.writeError(w, httptest.NewRequest("GET", "/x", nil), errSecret)
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "db password") {
		t.Fatalf("internal error answered %d %s", w.Code, w.Body)
	}
	if !strings.Contains(logs.String(), "db password") {
		t.Fatalf("cause not logged: %s", logs.String())
	}
}

type secretError struct{}

func (secretError) Error() string { return "dial tcp: db password rejected" }

var errSecret = secretError{}
