package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/knot-dev/knot/shared/api"
)

// Audit calls /api/audit-logs.
type Audit struct{ c *Client }

// Audit returns the calls on the audit log.
func (c *Client) Audit() *Audit { return &Audit{c} }

// List returns up to max events (0: the server's default of 10) from the
// start-th newest on, newest first, and the total count (GET
// /api/audit-logs).
func (a *Audit) List(ctx context.Context, start, max int) (*api.AuditList, error) {
	q := url.Values{}
	if start > 0 {
		q.Set("start", strconv.Itoa(start))
	}
	if max > 0 {
		q.Set("max_items", strconv.Itoa(max))
	}
	path := "/api/audit-logs"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out api.AuditList
	return &out, a.c.Do(ctx, http.MethodGet, path, nil, &out)
}
