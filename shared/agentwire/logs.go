package agentwire

import (
	"errors"
	"time"
	"unicode/utf8"
)

// OpenLogs is the purpose of the agent's log stream (agent → leaf): LogLine
// frames until the link ends, lines the agent forwards into its space's
// log. An agent opens at most one at a time.
const OpenLogs = "logs"

// Bounds of a LogLine.
const (
	// MaxLogText bounds a log line's text; longer lines are cut by the
	// agent before sending.
	MaxLogText = 4 << 10
	// MaxLogService bounds the name of the service a line came from.
	MaxLogService = 64
)

// Levels of a LogLine, the levels of a space's log.
const (
	LevelInfo  = "info"
	LevelError = "error"
)

// LogLine is one line the agent forwards: its own log, or what programs in
// the space sent to its syslog or HTTP intake.
type LogLine struct {
	At      time.Time `json:"at"`
	Level   string    `json:"level"`   // LevelInfo or LevelError
	Service string    `json:"service"` // "agent", a syslog tag, or the HTTP sender's name
	Text    string    `json:"text"`
}

// Validate checks l's level, lengths and characters. Text may not hold
// line breaks: one LogLine is one line of the log.
func (l *LogLine) Validate() error {
	switch {
	case l.Level != LevelInfo && l.Level != LevelError:
		return errors.New("log: level must be info or error")
	case l.Service == "" || len(l.Service) > MaxLogService || !printable(l.Service):
		return errors.New("log: service must be 1 to 64 printable characters")
	case l.Text == "" || len(l.Text) > MaxLogText || !utf8.ValidString(l.Text):
		return errors.New("log: text must be 1 byte to 4 KiB of UTF-8")
	case l.At.IsZero():
		return errors.New("log: at is required")
	}
	for _, r := range l.Text {
		if r == '\n' || r == '\r' {
			return errors.New("log: text must be one line")
		}
	}
	return nil
}

// CleanLogText makes s fit a LogLine's text: invalid UTF-8 and control
// characters other than tab become U+FFFD, trailing space is dropped, and
// it is cut to MaxLogText bytes on a character boundary. It does not split
// lines; callers split s at line breaks first.
func CleanLogText(s string) string {
	out := make([]rune, 0, min(len(s), MaxLogText))
	n := 0
	for _, r := range s {
		if r == utf8.RuneError || (r < 0x20 && r != '\t') || r == 0x7f {
			r = utf8.RuneError
		}
		w := utf8.RuneLen(r)
		if n+w > MaxLogText {
			break
		}
		out = append(out, r)
		n += w
	}
	for len(out) > 0 && (out[len(out)-1] == ' ' || out[len(out)-1] == '\t') {
		out = out[:len(out)-1]
	}
	return string(out)
}

// CleanLogService makes s a LogLine's service: printable, at most
// MaxLogService bytes, def when nothing is left.
func CleanLogService(s, def string) string {
	b := make([]rune, 0, len(s))
	n := 0
	for _, r := range s {
		if r < 0x21 || r == 0x7f || r == utf8.RuneError {
			continue
		}
		if n+utf8.RuneLen(r) > MaxLogService {
			break
		}
		b = append(b, r)
		n += utf8.RuneLen(r)
	}
	if len(b) == 0 {
		return def
	}
	return string(b)
}
