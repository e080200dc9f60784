package bench

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/knot-dev/knot/shared/client"
)

// newAPI returns a client of the origin's REST API that acts with the
// admin's API token; its errors read as the knot CLI shows them.
func newAPI(base, token, version string) (*client.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 30 * time.Second
	return client.New(client.Config{
		Address: base, Token: token, UserAgent: "knot/" + version,
		HTTPClient: &http.Client{Transport: tr, Timeout: time.Minute},
	})
}

// rootCause drops what repeats the address from a transport error:
// "Get "http://...": dial tcp 127.0.0.1:1: connect: connection refused"
// becomes "connection refused".
func rootCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Err == nil {
		return err
	}
	var inner interface{ Unwrap() error }
	if errors.As(oe.Err, &inner) && inner.Unwrap() != nil {
		return inner.Unwrap()
	}
	return oe.Err
}
