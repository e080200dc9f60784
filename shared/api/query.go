package api

import (
	"net/url"
	"strconv"

	"github.com/knot-dev/knot/shared"
)

// ListQuery reads the query parameters every list route takes: q, sort,
// limit, offset, and the filters state, location and owner. A list without
// a filter ignores it; the service checks the sort and the ranges.
func ListQuery(q url.Values) (shared.ListOptions, error) {
	o := shared.ListOptions{Query: q.Get("q"), Sort: q.Get("sort"), State: q.Get("state"),
		Location: q.Get("location"), Owner: q.Get("owner")}
	var err error
	if o.Limit, err = intParam(q.Get("limit"), "limit", 0, 0, shared.MaxListLimit); err != nil {
		return o, err
	}
	o.Offset, err = intParam(q.Get("offset"), "offset", 0, 0, 1<<31)
	return o, err
}

// SpaceQuery reads the query parameters of GET /api/spaces: the list's
// (ListQuery), user_id, and all (true or false).
func SpaceQuery(q url.Values) (shared.SpaceFilter, error) {
	o, err := ListQuery(q)
	f := shared.SpaceFilter{UserID: q.Get("user_id"), ListOptions: o}
	switch all := q.Get("all"); {
	case err != nil:
		return f, err
	case all == "true":
		f.All = true
	case all != "" && all != "false":
		return f, invalid("query parameter all must be true or false, not %s", shared.Quote(all))
	}
	return f, nil
}

// AuditQuery reads the query parameters of GET /api/audit-logs: start,
// max_items (or max-items; 10 when absent), q, location and sort.
func AuditQuery(q url.Values) (shared.ListOptions, error) {
	o := shared.ListOptions{Query: q.Get("q"), Location: q.Get("location"), Sort: q.Get("sort")}
	var err error
	if o.Offset, err = intParam(q.Get("start"), "start", 0, 0, 1<<31); err != nil {
		return o, err
	}
	maxName, maxVal := "max_items", q.Get("max_items")
	if maxVal == "" && q.Get("max-items") != "" {
		maxName, maxVal = "max-items", q.Get("max-items")
	}
	o.Limit, err = intParam(maxVal, maxName, 10, 1, shared.MaxAuditPage)
	return o, err
}

// intParam parses a query parameter: def when empty, else a whole number in
// [lo, hi].
func intParam(v, name string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, invalid("query parameter %s must be a whole number from %d to %d, not %q", name, lo, hi, v)
	}
	return n, nil
}
