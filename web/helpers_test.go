package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

// testPassword is the password of every user the tests make directly.
const testPassword = "correct-horse"

var (
	hashOnce sync.Once
	testHash string
)

// passwordHash returns a bcrypt hash of testPassword, made once.
func passwordHash(tb testing.TB) string {
	hashOnce.Do(func() {
		h, err := crypt.HashPassword(testPassword)
		if err != nil {
			panic(err)
		}
		testHash = h
	})
	return testHash
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a server on a memory store with a settable clock.
type env struct {
	t     testing.TB
	store *memory.Store
	srv   *web.Server
	h     http.Handler
	clock *clock
	ctl   *fakeController
}

// newEnv returns a server with the fake space controller; opts may change
// the options before the server is made.
func newEnv(tb testing.TB, opts ...func(*web.TestOptions)) *env {
	tb.Helper()
	e := &env{t: tb, store: memory.New(), clock: newClock()}
	e.ctl = &fakeController{store: e.store}
	o := web.TestOptions{
		Store:    e.store,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Version:  "1.2.3",
		Location: "home",
		Spaces:   e.ctl,
		Now:      e.clock.Now,
	}
	for _, f := range opts {
		f(&o)
	}
	srv, err := web.NewTest(o)
	if err != nil {
		tb.Fatalf("web.New: %v", err)
	}
	e.srv, e.h = srv, srv.Handler()
	return e
}

// resp is a recorded response.
type resp struct {
	code   int
	header http.Header
	body   []byte
}

func (r *resp) String() string { return string(r.body) }

// decode unmarshals the body into v.
func (r *resp) decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.body, err)
	}
}

// errMsg returns the error message of an error response, failing when the
// body is not {"error": "..."}.
func (r *resp) errMsg(tb testing.TB) string {
	tb.Helper()
	var b map[string]any
	if err := json.Unmarshal(r.body, &b); err != nil {
		tb.Fatalf("error body %q is not JSON: %v", r.body, err)
	}
	msg, ok := b["error"].(string)
	if !ok || msg == "" || len(b) != 1 {
		tb.Fatalf("error body %s is not {\"error\": \"...\"}", r.body)
	}
	return msg
}

// req is a request to send with env.send.
type req struct {
	method, path string
	token        string // bearer token
	body         any    // string or []byte: sent as is; else marshalled
	header       map[string]string
	cookies      []*http.Cookie
	remote       string
}

func (e *env) send(q req) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := q.body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	r := httptest.NewRequest(q.method, q.path, rd)
	if rd != nil {
		r.Header.Set("Content-Type", "application/json") // q.header may change it
	}
	if q.token != "" {
		r.Header.Set("Authorization", "Bearer "+q.token)
	}
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	for _, c := range q.cookies {
		r.AddCookie(c)
	}
	if q.remote != "" {
		r.RemoteAddr = q.remote
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return &resp{code: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// do sends method path with a bearer token and a body.
func (e *env) do(method, path, token string, body any) *resp {
	e.t.Helper()
	return e.send(req{method: method, path: path, token: token, body: body})
}

// must sends a request and fails unless it answers want.
func (e *env) must(want int, method, path, token string, body any) *resp {
	e.t.Helper()
	r := e.do(method, path, token, body)
	if r.code != want {
		e.t.Fatalf("%s %s = %d %s, want %d", method, path, r.code, r.body, want)
	}
	return r
}

// session stores a session for userID and returns its token.
func (e *env) session(userID string) string {
	e.t.Helper()
	secret := crypt.NewToken()
	now := e.clock.Now()
	se := &shared.Session{
		Meta:      shared.Meta{ID: crypt.HashToken(secret), CreatedAt: now, UpdatedAt: now},
		UserID:    userID,
		ExpiresAt: now.Add(2 * time.Hour),
	}
	if err := e.store.Put(context.Background(), se); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// user stores an active user with testPassword and the given roles (none:
// the built-in User role) and returns it with a session token.
func (e *env) user(name string, roles ...string) (*shared.User, string) {
	e.t.Helper()
	if len(roles) == 0 {
		roles = []string{shared.UserRoleID}
	}
	now := e.clock.Now()
	u := &shared.User{
		Meta:         shared.Meta{ID: newUUID(e.t), CreatedAt: now, UpdatedAt: now},
		Username:     name,
		Email:        name + "@example.com",
		PasswordHash: passwordHash(e.t),
		Roles:        roles,
		Active:       true,
	}
	if err := e.store.Put(context.Background(), u); err != nil {
		e.t.Fatal(err)
	}
	return u, e.session(u.ID)
}

// admin stores an admin user and returns its session token.
func (e *env) admin() (*shared.User, string) {
	e.t.Helper()
	return e.user("admin", shared.AdminRoleID)
}

// role stores a role with perms and returns its id.
func (e *env) role(name string, perms ...shared.Permission) string {
	e.t.Helper()
	r := &shared.Role{Meta: shared.Meta{ID: newUUID(e.t)}, Name: name, Permissions: perms}
	if err := e.store.Put(context.Background(), r); err != nil {
		e.t.Fatal(err)
	}
	return r.ID
}

// template stores a manual template (or kind, if given) and returns it.
func (e *env) template(name string, groups ...string) *shared.Template {
	e.t.Helper()
	t := &shared.Template{Meta: shared.Meta{ID: newUUID(e.t)}, Name: name, Kind: shared.TemplateManual, Groups: groups}
	t.Hash = t.ComputeHash()
	if err := e.store.Put(context.Background(), t); err != nil {
		e.t.Fatal(err)
	}
	return t
}

// space stores a stopped space of owner and returns it.
func (e *env) space(owner *shared.User, t *shared.Template, name string) *shared.Space {
	e.t.Helper()
	sp := &shared.Space{Meta: shared.Meta{ID: newUUID(e.t)}, UserID: owner.ID, TemplateID: t.ID, Name: name,
		Location: "home", Shell: "bash", State: shared.SpaceStopped, TemplateHash: t.Hash}
	if err := e.store.Put(context.Background(), sp); err != nil {
		e.t.Fatal(err)
	}
	return sp
}

// revision returns the store's current revision.
func (e *env) revision() int64 {
	e.t.Helper()
	h, err := e.store.Head(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return h.Revision
}

// auditEvents returns every audit event, newest first.
func (e *env) auditEvents() []shared.AuditEvent {
	e.t.Helper()
	evs, _, err := e.store.ListAudit(context.Background(), 0, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// hasAudit reports whether an event named event with details containing
// detail was recorded.
func (e *env) hasAudit(event, detail string) bool {
	for _, ev := range e.auditEvents() {
		if ev.Event == event && strings.Contains(ev.Details, detail) {
			return true
		}
	}
	return false
}

func getRecord[T any, P storage.RecordPtr[T]](e *env, id string) (P, error) {
	return storage.Get[T, P](context.Background(), e.store, id)
}

func newUUID(tb testing.TB) string { return uuid.NewString() }

// fakeController is a SpaceController that sets the state in the store, as
// the runtime does for manual spaces. StartErr, when set, is returned by
// Start instead.
type fakeController struct {
	store    storage.Store
	mu       sync.Mutex
	StartErr error    // guarded by mu
	calls    []string // guarded by mu: "start <id>", ...
	// entered and release, when set, make Start signal entered and wait for
	// release before it acts.
	entered, release chan struct{}
}

var _ web.SpaceController = (*fakeController)(nil)

func (f *fakeController) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeController) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeController) set(ctx context.Context, id string, state shared.SpaceState) error {
	sp, err := storage.Get[shared.Space](ctx, f.store, id)
	if err != nil {
		return err
	}
	sp.State = state
	return f.store.Put(ctx, sp)
}

func (f *fakeController) Start(ctx context.Context, id string) error {
	f.record("start " + id)
	if f.entered != nil {
		f.entered <- struct{}{}
		<-f.release
	}
	f.mu.Lock()
	err := f.StartErr
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.set(ctx, id, shared.SpaceRunning)
}

func (f *fakeController) Stop(ctx context.Context, id string) error {
	f.record("stop " + id)
	return f.set(ctx, id, shared.SpaceStopped)
}

func (f *fakeController) Delete(ctx context.Context, id string) error {
	f.record("delete " + id)
	_, err := f.store.Delete(ctx, shared.KindSpace, id)
	return err
}
