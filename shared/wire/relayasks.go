package wire

import (
	"errors"
	"time"
	"unicode/utf8"
)

// What the leaf of a space answers itself on a relayed stream
// (RelayOpen.Ask), rather than the space's agent: the agent token of a
// manual space, and the space's log, which the leaf keeps. The space's
// leaf checks the user as for every relayed stream (and, for the agent
// environment, that they own the space) and audits as for a local call.
// After a RelayReply without an error:
//
//   - AskAgentToken and AskAgentEnv: one RelayAgentToken frame, then the
//     stream ends. AskAgentEnv is for the space's owner only.
//   - AskLogs: a RelayLogLine frame for each recent line of the space's
//     log, oldest first, then the stream ends.
//   - AskLogsFollow: the same, then one frame for every new line, until
//     either side closes the stream (the leaf does when the log ends).
const (
	AskAgentToken = "agent_token"
	AskAgentEnv   = "agent_env"
	AskLogs       = "logs"
	AskLogsFollow = "logs_follow"
)

var relayAsks = map[string]bool{AskAgentToken: true, AskAgentEnv: true, AskLogs: true, AskLogsFollow: true}

// The bounds of the answers to asks.
const (
	// MaxRelayEnv bounds the variables of a RelayAgentToken, and
	// MaxRelayEnvValue each name and value.
	MaxRelayEnv      = 16
	MaxRelayEnvValue = 1024
	// MaxRelayLogText bounds the text of a RelayLogLine, and
	// MaxRelayLogLevel its level.
	MaxRelayLogText  = 8 << 10
	MaxRelayLogLevel = 16
)

// RelayAgentToken answers AskAgentToken and AskAgentEnv: the new agent
// token of a manual space, and the environment of its agent.
type RelayAgentToken struct {
	Token string            `json:"token"`
	Env   map[string]string `json:"env"`
}

// Validate bounds t.
func (t *RelayAgentToken) Validate() error {
	if t.Token == "" || len(t.Token) > MaxRelayEnvValue || len(t.Env) > MaxRelayEnv {
		return errors.New("relay: an agent token answer holds a token and at most 16 variables")
	}
	for k, v := range t.Env {
		if k == "" || len(k) > MaxRelayEnvValue || len(v) > MaxRelayEnvValue || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return errors.New("relay: an agent token answer has a variable that is empty or too long")
		}
	}
	return nil
}

// RelayLogLine is one line of a space's log, answering AskLogs and
// AskLogsFollow.
type RelayLogLine struct {
	At    time.Time `json:"at"`
	Level string    `json:"level"`
	Text  string    `json:"text"`
}

// Validate bounds l.
func (l *RelayLogLine) Validate() error {
	if len(l.Level) > MaxRelayLogLevel || len(l.Text) > MaxRelayLogText || !utf8.ValidString(l.Text) || !utf8.ValidString(l.Level) {
		return errors.New("relay: a log line's level or text is too long or not UTF-8")
	}
	return nil
}
