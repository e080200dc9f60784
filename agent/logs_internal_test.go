package agent

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/knot-dev/knot/shared/agentwire"
)

// A full queue keeps the newest lines, and a note of how many were lost
// comes before them.
func TestLogQueueKeepsTheNewestLines(t *testing.T) {
	q := newLogQueue(10)
	for i := range 30 {
		q.forward(nil, time.Now(), agentwire.LevelInfo, "q", fmt.Sprintf("line %d", i))
	}
	var got []string
	for {
		l, note, ok := q.peek()
		if !ok {
			break
		}
		got = append(got, l.Text)
		q.pop(note)
	}
	if len(got) != 11 || got[0] != "20 log lines were dropped in the space: more came than the agent forwards" ||
		got[1] != "line 20" || got[10] != "line 29" {
		t.Fatalf("queue gave %q", got)
	}
}

// The agent's own log goes to the space's log as the service "agent",
// without the "agent: " its messages begin with, and with its attributes.
func TestOwnLogLinesNameTheAgentOnce(t *testing.T) {
	q := newLogQueue(10)
	log := slog.New(newForwardHandler(slog.DiscardHandler, q))
	log.Warn("agent: no syslog on UDP", "addr", "127.0.0.1:514")
	l, _, ok := q.peek()
	if !ok || l.Service != "agent" || l.Level != agentwire.LevelError || l.Text != "no syslog on UDP addr=127.0.0.1:514" {
		t.Fatalf("the queue holds %+v (%v), want the agent's warning once named", l, ok)
	}
}

func TestParseSyslog(t *testing.T) {
	for _, c := range []struct{ in, level, service, msg string }{
		{"<11>Dec  7 05:00:00 myapp[12]: disk on fire", "error", "myapp", "disk on fire"},
		{"<14>Dec  7 05:00:00 host sshd[9]: accepted", "info", "sshd", "accepted"},
		{"<13>Dec  7 05:00:00 root: from logger", "info", "root", "from logger"},
		{"<12>1 2026-12-07T05:00:00Z h app 1 - - warned", "error", "app", "warned"},
		{"<14>1 2026-12-07T05:00:00Z h - - - [a@1 x=\"1\"][b@2] \ufeffbom", "info", "syslog", "bom"},
		{"no pri at all", "info", "syslog", "no pri at all"},
		{"<999>too high", "info", "syslog", "<999>too high"},
		{"<7>just text here", "info", "syslog", "just text here"},
	} {
		level, service, msg := parseSyslog(c.in)
		if level != c.level || service != c.service || msg != c.msg {
			t.Errorf("parseSyslog(%q) = %q %q %q, want %q %q %q", c.in, level, service, msg, c.level, c.service, c.msg)
		}
	}
}

// FuzzParseSyslog: any datagram gives a line the leaf accepts, or none.
func FuzzParseSyslog(f *testing.F) {
	for _, s := range []string{"<11>Dec  7 05:00:00 myapp[12]: x", "<14>1 t h a p m [x@1 a=\"]\"] m", "<", "<1>", "<14>1 ", "a: b\nc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		q := newLogQueue(100)
		level, service, msg := parseSyslog(in)
		q.forward(nil, time.Now(), level, service, msg)
		for {
			l, note, ok := q.peek()
			if !ok {
				return
			}
			if err := l.Validate(); err != nil {
				t.Fatalf("%q gave an invalid line %+v: %v", in, l, err)
			}
			if !utf8.ValidString(l.Text) || strings.ContainsAny(l.Text, "\r\n") {
				t.Fatalf("bad text %q", l.Text)
			}
			q.pop(note)
		}
	})
}

// FuzzIntake: any body posted to the HTTP intake is taken (202) or
// refused with a 4xx, and what it queues are lines the leaf accepts.
func FuzzIntake(f *testing.F) {
	f.Add("/logs", `{"service":"app","level":"warn","message":"a\nb"}`)
	f.Add("/gelf", `{"short_message":"x","level":3,"_service":"svc"}`)
	f.Add("/logs", `{"message":"\u0000\u001b[1m\ud800"}`)
	f.Add("/gelf", `{"level":-1}`)
	f.Fuzz(func(t *testing.T, path, body string) {
		if path != "/gelf" {
			path = "/logs"
		}
		a := &Agent{opts: Options{LogRate: 1 << 20}, logs: newLogQueue(1000)}
		h := a.intakeHandler(newLimiter(1 << 20))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
		if w.Code != http.StatusAccepted && (w.Code < 400 || w.Code > 499) {
			t.Fatalf("%s %q: status %d", path, body, w.Code)
		}
		for {
			l, note, ok := a.logs.peek()
			if !ok {
				break
			}
			if err := l.Validate(); err != nil {
				t.Fatalf("%s %q queued an invalid line %+v: %v", path, body, l, err)
			}
			a.logs.pop(note)
		}
	})
}
