package shared

import "context"

// Caller is where a request came from, as the audit log records it.
type Caller struct {
	// IP is the client's address.
	IP string
	// UserAgent and ForwardedFor are the request's User-Agent and
	// X-Forwarded-For headers, if any.
	UserAgent, ForwardedFor string
	// Writes is set when the request asks for a change (POST, PUT,
	// DELETE). A leaf makes the changes of origin-owned data at the
	// origin, so it checks there an API token its replica does not hold
	// yet; the audit log does not record it.
	Writes bool
}

const callerKey contextKey = actorKey + 1

// NewContextWithCaller returns a copy of ctx that carries c, for the audit
// events that services record of the call.
func NewContextWithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey, c)
}

// CallerFrom returns the caller in ctx; the zero Caller when there is none.
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey).(Caller)
	return c
}

// CallerProps adds to props (nil: a new map) what the audit log records
// of c, and returns it.
func CallerProps(c Caller, props map[string]string) map[string]string {
	if props == nil {
		props = map[string]string{}
	}
	props["ip"] = c.IP
	if c.UserAgent != "" {
		props["user_agent"] = truncate(c.UserAgent, 256)
	}
	if c.ForwardedFor != "" {
		props["x_forwarded_for"] = truncate(c.ForwardedFor, 256)
	}
	return props
}

// truncate returns at most the first n bytes of s.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
