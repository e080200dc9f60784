package agent

// The HTTP intake: programs in the space post log lines to
// http://127.0.0.1:<agent.api_port>, and the agent forwards them into the
// space's log. It listens on loopback only (the predecessor's listened on
// every interface, so anyone who could reach the space could write its
// log).
//
//	POST /logs  {"service": "app", "level": "debug|info|warn|error", "message": "..."}
//	POST /gelf  a GELF message: short_message (and full_message), level
//	            (syslog severity), _service or facility
//
// Both answer 202 when the lines are queued, 400 for a body that is not
// such a message, 413 for one over 64 KiB, and 429 when the intake's rate
// is spent (Retry-After: 1).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/knot-dev/knot/shared/agentwire"
)

// maxIntakeBody bounds a request body of the HTTP intake.
const maxIntakeBody = 64 << 10

// intakeMessage is the body of POST /logs.
type intakeMessage struct {
	Service string `json:"service"`
	Level   string `json:"level"`
	Message string `json:"message"`
}

// gelfMessage is the part of a GELF message the intake reads.
type gelfMessage struct {
	Short    string          `json:"short_message"`
	Full     string          `json:"full_message"`
	Level    *int            `json:"level"`
	Facility string          `json:"facility"`
	Service  string          `json:"_service"`
	Time     json.RawMessage `json:"timestamp"`
}

// intakeLevel maps a level of POST /logs to a level of the space's log.
func intakeLevel(s string) (string, error) {
	switch strings.ToLower(s) {
	case "", "debug", "info":
		return agentwire.LevelInfo, nil
	case "warn", "warning", "error":
		return agentwire.LevelError, nil
	}
	return "", fmt.Errorf("level %q is not debug, info, warn or error", truncateText(s, 32))
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// intakeHandler serves the HTTP intake.
func (a *Agent) intakeHandler(lim *limiter) http.Handler {
	mux := http.NewServeMux()
	take := func(w http.ResponseWriter, r *http.Request, v any) bool {
		r.Body = http.MaxBytesReader(w, r.Body, maxIntakeBody)
		dec := json.NewDecoder(r.Body)
		if err := dec.Decode(v); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(w, fmt.Sprintf("the body is over %d bytes", maxIntakeBody), http.StatusRequestEntityTooLarge)
			} else {
				http.Error(w, "the body is not a JSON log message: "+err.Error(), http.StatusBadRequest)
			}
			return false
		}
		return true
	}
	queue := func(w http.ResponseWriter, level, service, text string) {
		switch {
		case strings.TrimSpace(text) == "":
			http.Error(w, "the message is empty", http.StatusBadRequest)
		case !utf8.ValidString(text):
			http.Error(w, "the message is not UTF-8", http.StatusBadRequest)
		case !lim.allow():
			w.Header().Set("Retry-After", "1")
			http.Error(w, fmt.Sprintf("over %d lines a second; try again", a.opts.LogRate), http.StatusTooManyRequests)
		default:
			a.logs.forward(lim, time.Now(), level, agentwire.CleanLogService(service, "http"), text)
			w.WriteHeader(http.StatusAccepted)
		}
	}
	mux.HandleFunc("POST /logs", func(w http.ResponseWriter, r *http.Request) {
		var m intakeMessage
		if !take(w, r, &m) {
			return
		}
		level, err := intakeLevel(m.Level)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		queue(w, level, m.Service, m.Message)
	})
	mux.HandleFunc("POST /gelf", func(w http.ResponseWriter, r *http.Request) {
		var m gelfMessage
		if !take(w, r, &m) {
			return
		}
		level := agentwire.LevelInfo
		if m.Level != nil && *m.Level <= 4 {
			level = agentwire.LevelError
		}
		service := m.Service
		if service == "" {
			service = m.Facility
		}
		if service == "" {
			service = "gelf"
		}
		text := m.Short
		if m.Full != "" {
			text = m.Full
		}
		queue(w, level, service, text)
	})
	return mux
}

// listenIntake opens the HTTP intake's listener, or logs why it cannot.
func (a *Agent) listenIntake() net.Listener {
	if a.opts.IntakeAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.opts.IntakeAddr)
	if err != nil {
		a.log.Warn("agent: no HTTP log intake", "addr", a.opts.IntakeAddr, "err", err)
		return nil
	}
	a.log.Info("agent: HTTP log intake", "addr", ln.Addr().String())
	return ln
}

// startLogSources opens the syslog sockets and the HTTP intake and serves
// them; the returned function closes them and waits for their goroutines.
func (a *Agent) startLogSources() (stop func()) {
	var wg sync.WaitGroup
	pcs := a.listenSyslog()
	slim := newLimiter(a.opts.LogRate)
	for _, pc := range pcs {
		wg.Go(func() { a.serveSyslog(pc, slim) })
	}
	var hs *http.Server
	if ln := a.listenIntake(); ln != nil {
		hs = &http.Server{Handler: a.intakeHandler(newLimiter(a.opts.LogRate)), ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, MaxHeaderBytes: 8 << 10,
			ErrorLog: log.New(io.Discard, "", 0)}
		wg.Go(func() { hs.Serve(ln) })
	}
	return func() {
		for _, pc := range pcs {
			pc.Close()
			if _, ok := pc.(*net.UnixConn); ok {
				// Close leaves a unixgram socket's file behind.
				os.Remove(a.opts.SyslogSocket)
			}
		}
		if hs != nil {
			// Shutdown waits for the connections being closed (one whose
			// body was refused lingers half a second).
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			if hs.Shutdown(ctx) != nil {
				hs.Close()
			}
			cancel()
		}
		wg.Wait()
	}
}
