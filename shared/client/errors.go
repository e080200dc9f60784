package client

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/tlsconf"
)

// codeOf maps an HTTP status back to the code web maps to it. A status
// that two codes share (507: EQUOTA and ENOSPACE) maps to the one a caller
// can act on.
var codeOf = map[int]string{
	http.StatusBadRequest:            shared.EINVALID,
	http.StatusUnauthorized:          shared.EUNAUTHORIZED,
	http.StatusForbidden:             shared.EFORBIDDEN,
	http.StatusNotFound:              shared.ENOTFOUND,
	http.StatusMethodNotAllowed:      shared.EINVALID,
	http.StatusConflict:              shared.ECONFLICT,
	http.StatusRequestEntityTooLarge: shared.ETOOLARGE,
	http.StatusUnsupportedMediaType:  shared.EMEDIATYPE,
	http.StatusLocked:                shared.ELOCKED,
	http.StatusTooManyRequests:       shared.ERATELIMIT,
	http.StatusServiceUnavailable:    shared.EUNAVAILABLE,
	http.StatusBadGateway:            shared.EUNAVAILABLE,
	http.StatusGatewayTimeout:        shared.EUNAVAILABLE,
	http.StatusInsufficientStorage:   shared.EQUOTA,
	http.StatusInternalServerError:   shared.EINTERNAL,
}

// ResponseError is an answer with a status of 400 or more. It unwraps to
// the *shared.Error of its code and the server's message.
type ResponseError struct {
	StatusCode int
	Header     http.Header
	Body       []byte // the whole answer, for fields beyond "error"
	// RetryAfter is the wait a 429 or 503 asked for in its Retry-After
	// header; 0 when it gave none.
	RetryAfter time.Duration
	Err        *shared.Error
}

// CodeOf returns the error code of an answer with status: the code web
// answers status for, EINVALID for another 4xx and EINTERNAL for another
// 5xx.
func CodeOf(status int) string {
	if code, ok := codeOf[status]; ok {
		return code
	}
	if status < 500 {
		return shared.EINVALID
	}
	return shared.EINTERNAL
}

func newResponseError(resp *http.Response, body []byte) *ResponseError {
	e := &ResponseError{StatusCode: resp.StatusCode, Header: resp.Header, Body: body,
		Err: &shared.Error{Code: CodeOf(resp.StatusCode), Message: errorMessage(resp.StatusCode, body)}}
	if secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && secs >= 0 {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	return e
}

// errorMessage is the {"error": ...} of body, or a description of a body
// that carried none.
func errorMessage(status int, body []byte) string {
	var eb api.ErrorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
		return eb.Error
	}
	msg := "the server answered " + http.StatusText(status)
	if http.StatusText(status) == "" {
		msg = "the server answered an error"
	}
	if text := strings.TrimSpace(string(body)); text != "" && !strings.HasPrefix(text, "<") {
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		msg += ": " + strings.Join(strings.Fields(text), " ")
	}
	return msg
}

// Error returns the server's message and the status, as "message (HTTP
// 404)".
func (e *ResponseError) Error() string {
	return e.Err.Message + " (HTTP " + strconv.Itoa(e.StatusCode) + ")"
}

// Unwrap returns the *shared.Error of the answer.
func (e *ResponseError) Unwrap() error { return e.Err }

// StatusOf returns the HTTP status of the *ResponseError in err's chain, or
// 0.
func StatusOf(err error) int {
	var re *ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// RetryAfter returns the wait the server asked for with the answer in
// err's chain (a 429's Retry-After), or 0.
func RetryAfter(err error) time.Duration {
	var re *ResponseError
	if errors.As(err, &re) {
		return re.RetryAfter
	}
	return 0
}

// Enrolment returns the TOTP secret of a login that the server refused
// (401) until the user adds it to an authenticator app, and whether err is
// such a refusal.
func Enrolment(err error) (api.EnrolmentBody, bool) {
	var re *ResponseError
	var en api.EnrolmentBody
	if !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized {
		return en, false
	}
	if json.Unmarshal(re.Body, &en) != nil || en.TOTPSecret == "" {
		return en, false
	}
	return en, true
}

// TransportError is a request that got no answer: the server could not be
// reached, the connection broke, or the client's timeout passed. It is an
// EUNAVAILABLE *shared.Error, and it unwraps to the cause too, so that
// errors.As finds, say, a refused certificate.
//
// Its message says why in plain words (see Unreachable), in the words of
// the CLI: a refused certificate names the client's --tls-* flags. The
// cause as Go gives it is Err.
type TransportError struct {
	Address string
	Err     error
	what    string // what could not be done, e.g. "cannot open SSH"; "" for a request
}

// cliWording is how a TransportError speaks: to a user of the CLI, whose
// --tls-* flags say how to verify the server.
var cliWording = Wording{
	Server: "the server",
	Client: "this client",
	Verify: "verify the server with --tls-ca-file FILE or --tls-fingerprint SHA256 (knot server --print-fingerprint on the server shows it), or skip verification with --tls-skip-verify",
	Repin:  "the pin is --tls-fingerprint (client.tls_fingerprint): if the server's certificate changed, knot server --print-fingerprint on the server shows its new fingerprint",
}

func (e *TransportError) Error() string {
	words, known := Unreachable(cliWording, e.Address, e.Err)
	if !known {
		words += ": " + shortCause(e.Err).Error()
	}
	if e.what == "" {
		return words
	}
	return e.what + ": " + words
}

// Unwrap returns the EUNAVAILABLE *shared.Error and the cause.
func (e *TransportError) Unwrap() []error {
	return []error{&shared.Error{Code: shared.EUNAVAILABLE, Message: e.Error()}, e.Err}
}

// shortCause drops the "Get "http://...":" prefix of a *url.Error, which
// repeats the address, and the "dial tcp ...:" of a *net.OpError.
func shortCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		// "dial tcp 127.0.0.1:1: connect: connection refused" → "connection refused"
		var se interface{ Unwrap() error }
		if errors.As(oe.Err, &se) && se.Unwrap() != nil {
			return se.Unwrap()
		}
		return oe.Err
	}
	return err
}

// Wording names the two ends of a connection in the words of Unreachable,
// and what to say about a certificate the client refused.
type Wording struct {
	// Server is the one asked ("the server", "the origin"), Client the one
	// asking ("this client", "this leaf").
	Server, Client string
	// Verify says how to have the client accept a certificate it refused;
	// "" says nothing.
	Verify string
	// Repin says what to do about a certificate that is not the pinned one;
	// "" says nothing.
	Repin string
}

// Unreachable says in plain words why a connection to the server at
// address failed with err: nothing answers there, its host name does not
// resolve, its certificate was refused (and, as w says, how to have it
// accepted), it did not answer in time, no route leads to it, or the
// connection closed before it answered. address is a URL (a ws:// or wss://
// one is named as http:// or https://) or a host:port. known is false for
// any other err: words then say only that the server cannot be reached, and
// the caller adds the cause as it has it.
func Unreachable(w Wording, address string, err error) (words string, known bool) {
	at := address
	if u, perr := url.Parse(address); perr == nil && u.Host != "" {
		scheme := map[string]string{"ws": "http", "wss": "https"}[u.Scheme]
		at = cmp.Or(scheme, u.Scheme) + "://" + u.Host
	}
	var (
		dnsErr    *net.DNSError
		pin       *tlsconf.FingerprintError
		unknownCA x509.UnknownAuthorityError
		wrongHost x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		netErr    net.Error
	)
	withHint := func(words, hint string) string {
		if hint == "" {
			return words
		}
		return words + "; " + hint
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing answers at " + at + " (connection refused): " + w.Server + " is not running there, or not at that address", true
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("%s's host name %s cannot be resolved", w.Server, cmp.Or(dnsErr.Name, at)), true
	case errors.As(err, &pin):
		return withHint(fmt.Sprintf("%s's TLS certificate is not the pinned one: its SHA-256 fingerprint is %s, not %s", w.Server, pin.Got, pin.Want), w.Repin), true
	case errors.As(err, &unknownCA):
		return withHint(w.Server+"'s TLS certificate is not trusted by "+w.Client+": no authority it trusts signed it", w.Verify), true
	case errors.As(err, &wrongHost):
		return withHint(w.Server+"'s TLS certificate is not for the address "+at, w.Verify), true
	case errors.As(err, &invalid):
		return withHint(w.Server+"'s TLS certificate is not valid: it has expired, is not yet valid, or may not serve a web site", w.Verify), true
	case errors.As(err, &verify):
		return withHint(w.Server+"'s TLS certificate is not trusted by "+w.Client, w.Verify), true
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		return w.Server + " at " + at + " did not answer in time", true
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return "no network route leads to " + at, true
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection to " + at + " closed before " + w.Server + " answered", true
	}
	return w.Server + " at " + at + " cannot be reached", false
}
