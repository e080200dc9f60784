package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

// originEnv is an env whose server is an origin at location "home" that
// takes leaves on API tokens, served on a loopback listener.
type originEnv struct {
	*env
	url string
}

func newOriginEnv(t *testing.T) *originEnv {
	t.Helper()
	var hub *origin.Hub
	e := newEnv(t, func(o *web.TestOptions) {
		h, err := origin.New(origin.Options{Store: o.Store, Logger: quietLog(), SharedTokenHash: crypt.HashToken(fleetToken), EnableLeafAPITokens: true})
		if err != nil {
			t.Fatal(err)
		}
		o.Hub, hub = h, h
	})
	r := run(t, hub.Run)
	srv := httptest.NewServer(e.h)
	t.Cleanup(func() {
		r.stop()
		srv.Close()
	})
	return &originEnv{env: e, url: srv.URL}
}

// apiToken stores an API token of u and returns its secret.
func (e *originEnv) apiToken(u *shared.User) string {
	e.t.Helper()
	secret := crypt.NewToken()
	if err := e.store.Put(context.Background(), &shared.Token{Meta: shared.Meta{ID: crypt.HashToken(secret)}, UserID: u.ID, Name: "leaf"}); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// wsLeaf is a leaf spoken by hand over a real websocket: it answers every
// command with success, reports the spaces it is told to create, and
// keeps what it was sent.
type wsLeaf struct {
	t    *testing.T
	c    *websocket.Conn
	acks chan *wire.SpaceAck

	mu       sync.Mutex
	commands []wire.Command
	rev      int64
}

// dialLeaf connects a leaf with token and hello location, and returns it
// with the welcome.
func (e *originEnv) dialLeaf(t *testing.T, token, node, location string) (*wsLeaf, *wire.Welcome) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, e.url+wire.Path, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}, Subprotocols: []string{wire.Subprotocol}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(wire.MaxFrameSize)
	t.Cleanup(func() { c.CloseNow() })
	l := &wsLeaf{t: t, c: c, acks: make(chan *wire.SpaceAck, 16)}
	l.send(&wire.Hello{NodeID: node, Location: location, Version: "test", ProtocolMin: wire.ProtocolMin, ProtocolMax: wire.ProtocolMax, Runtimes: []string{"docker"}})
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read the welcome: %v", err)
	}
	f, err := wire.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	w, ok := f.(*wire.Welcome)
	if !ok {
		t.Fatalf("want a welcome, got %#v", f)
	}
	go l.serve()
	return l, w
}

func (l *wsLeaf) send(f wire.Frame) {
	b, err := wire.Encode(f)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.c.Write(ctx, websocket.MessageText, b)
}

func (l *wsLeaf) serve() {
	for {
		_, b, err := l.c.Read(context.Background())
		if err != nil {
			return
		}
		f, err := wire.Decode(b)
		if err != nil {
			continue
		}
		switch f := f.(type) {
		case *wire.Command:
			l.mu.Lock()
			l.commands = append(l.commands, *f)
			l.mu.Unlock()
			l.send(&wire.CommandResult{ID: f.ID})
			if f.Action == wire.ActionCreate {
				l.report(f.SpaceID, f.Space)
			}
		case *wire.SpaceAck:
			l.acks <- f
		}
	}
}

// report sends a report of the space data and returns its leaf revision.
func (l *wsLeaf) report(id string, data []byte) {
	l.mu.Lock()
	l.rev++
	rev := l.rev
	l.mu.Unlock()
	l.send(&wire.SpaceReport{LeafRevision: rev, SpaceID: id, Space: data})
}

// reportAck reports sp and returns the origin's answer.
func (l *wsLeaf) reportAck(sp *shared.Space) *wire.SpaceAck {
	l.t.Helper()
	data, err := json.Marshal(sp)
	if err != nil {
		l.t.Fatal(err)
	}
	l.report(sp.ID, data)
	select {
	case a := <-l.acks:
		return a
	case <-time.After(5 * time.Second):
		l.t.Fatalf("no ack for the report of %s", sp.Name)
		return nil
	}
}

func (l *wsLeaf) sent() []wire.Command {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]wire.Command(nil), l.commands...)
}

// A user's restricted leaf serves user:NAME, runs that user's spaces only,
// and no other user can send it a space by naming its location, in either
// form.
func TestSpacesAtARestrictedLocationAreItsOwnersOnly(t *testing.T) {
	e := newOriginEnv(t)
	_, adminSession := e.admin()
	alice, aliceSession := e.user("alice")
	bob, bobSession := e.user("bob")
	tpl := e.template("byo")
	leaf, w := e.dialLeaf(t, e.apiToken(bob), "n-bob", "")
	if !w.Restricted || w.Location != "user:bob" {
		t.Fatalf("welcome %+v, want restricted at user:bob", w)
	}

	for _, tt := range []struct {
		name    string
		session string
		body    map[string]any
		code    int
		msg     string
	}{
		{"AnotherUserAtItsLocation", aliceSession, map[string]any{"name": "dev", "template_id": tpl.ID, "location": "user:bob"}, http.StatusForbidden, `location "user:bob" is the restricted leaf of user "bob"`},
		{"AnotherUserAtTheOwnersName", aliceSession, map[string]any{"name": "dev", "template_id": tpl.ID, "location": "bob"}, http.StatusBadRequest, `no leaf of location "bob" has ever connected`},
		{"AnAdminForAnotherUser", adminSession, map[string]any{"name": "dev", "template_id": tpl.ID, "location": "USER:bob", "user_id": alice.ID}, http.StatusForbidden, "restricted leaf"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/api/spaces", tt.session, tt.body)
			if r.code != tt.code || !strings.Contains(r.errMsg(t), tt.msg) {
				t.Fatalf("POST /api/spaces = %d %s, want %d and %q", r.code, r.body, tt.code, tt.msg)
			}
		})
	}
	if got := leaf.sent(); len(got) != 0 {
		t.Fatalf("bob's restricted leaf was sent %+v", got)
	}

	// Its owner creates a space there; the leaf gets it and reports it.
	r := e.must(http.StatusCreated, "POST", "/api/spaces", bobSession, map[string]any{"name": "dev", "template_id": tpl.ID, "location": "user:bob"})
	var created struct {
		ID string `json:"space_id"`
	}
	r.decode(t, &created)
	got := leaf.sent()
	if len(got) != 1 || got[0].Action != wire.ActionCreate || got[0].SpaceID != created.ID {
		t.Fatalf("bob's leaf was sent %+v, want the create of %s", got, created.ID)
	}
	eventually(t, 5*time.Second, func() string {
		if _, err := getRecord[shared.Space](e.env, created.ID); err != nil {
			return "the origin does not hold the reported space: " + err.Error()
		}
		return ""
	})
}

// What a restricted leaf reports of its owner's spaces passes the checks of
// POST /api/spaces, and a refused report stores nothing.
func TestRestrictedLeafReportsPassTheChecksOfPostSpaces(t *testing.T) {
	e := newOriginEnv(t)
	bob, _ := e.user("bob")
	bob.MaxSpaces = 2
	if err := e.store.Put(context.Background(), bob); err != nil {
		t.Fatal(err)
	}
	open := e.template("open")
	closed := e.template("closed", "some-other-group")
	e.space(bob, open, "athome") // one of bob's two
	leaf, _ := e.dialLeaf(t, e.apiToken(bob), "n-bob", "user:bob")

	space := func(name string, change func(*shared.Space)) *shared.Space {
		sp := &shared.Space{Meta: shared.Meta{ID: newUUID(t)}, UserID: bob.ID, TemplateID: open.ID, Name: name,
			Location: "user:bob", Shell: "bash", State: shared.SpaceStopped, TemplateHash: open.Hash}
		if change != nil {
			change(sp)
		}
		return sp
	}
	for _, tt := range []struct {
		name string
		sp   *shared.Space
		code string
		msg  string
	}{
		{"BadName", space("9lives", nil), shared.EINVALID, "name"},
		{"LongDescription", space("desc", func(sp *shared.Space) { sp.Description = strings.Repeat("x", 4097) }), shared.EINVALID, "description is longer than 4096 bytes"},
		{"BadShell", space("shell", func(sp *shared.Space) { sp.Shell = "csh" }), shared.EINVALID, `shell "csh"`},
		{"BadState", space("state", func(sp *shared.Space) { sp.State = "flying" }), shared.EINVALID, `state "flying"`},
		{"UnknownTemplate", space("tpl", func(sp *shared.Space) { sp.TemplateID = "no-such-template" }), shared.EINVALID, "does not exist"},
		{"TemplateNotTheOwners", space("closed", func(sp *shared.Space) { sp.TemplateID = closed.ID }), shared.EFORBIDDEN, "not available"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := leaf.reportAck(tt.sp)
			if a.Code != tt.code || !strings.Contains(a.Message, tt.msg) {
				t.Fatalf("ack %+v, want %s and %q", a, tt.code, tt.msg)
			}
			if _, err := getRecord[shared.Space](e.env, tt.sp.ID); !isNotFound(err) {
				t.Fatalf("the refused space is stored: %v", err)
			}
		})
	}

	good := space("good", nil)
	if a := leaf.reportAck(good); a.Code != "" {
		t.Fatalf("report of a good space: %+v", a)
	}
	over := space("over", nil)
	if a := leaf.reportAck(over); a.Code != shared.EQUOTA {
		t.Fatalf("report of a third space for a quota of 2: %+v, want %s", a, shared.EQUOTA)
	}
	// A change of a stored space passes the same checks of its fields.
	good.Shell = "tcsh"
	if a := leaf.reportAck(good); a.Code != shared.EINVALID {
		t.Fatalf("report of a bad shell for a stored space: %+v, want %s", a, shared.EINVALID)
	}
	good.Shell, good.State = "zsh", shared.SpaceRunning
	if a := leaf.reportAck(good); a.Code != "" {
		t.Fatalf("report of a started space: %+v", a)
	}
}

func isNotFound(err error) bool { return shared.ErrorCode(err) == shared.ENOTFOUND }

// No leaf token is issued for the origin's own location or for a
// restricted one.
func TestLeafTokensForNoOwnOrRestrictedLocation(t *testing.T) {
	e := newOriginEnv(t)
	_, admin := e.admin()
	for loc, want := range map[string]string{
		"home":     "this origin's own location",
		"Home":     "this origin's own location",
		"user:bob": "restricted location",
	} {
		r := e.do("POST", "/api/leaf-tokens", admin, map[string]string{"location": loc})
		if r.code != http.StatusBadRequest || !strings.Contains(r.errMsg(t), want) {
			t.Errorf("leaf token for %s: %d %s, want 400 and %q", loc, r.code, r.body, want)
		}
	}
}

// Only a leaf serves a restricted location: a standalone server or an
// origin does not start at one.
func TestOnlyALeafServesARestrictedLocation(t *testing.T) {
	hub, err := origin.New(origin.Options{Store: memory.New(), SharedTokenHash: crypt.HashToken(fleetToken)})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []*origin.Hub{nil, hub} {
		_, err := web.NewTest(web.TestOptions{Store: memory.New(), Location: "user:ann", Hub: h})
		if err == nil || !strings.Contains(err.Error(), "restricted location") {
			t.Errorf("web.New at user:ann (hub %v): %v, want an error", h != nil, err)
		}
	}
}

// The New space dialog offers the locations an origin knows, its own and
// its leaves'; a location no leaf has ever had is refused as unknown,
// naming the known ones, not as one to try again later.
func TestNewSpaceOffersTheKnownLocations(t *testing.T) {
	e := newOriginEnv(t)
	_, session := e.admin()
	tpl := e.template("byo")
	e.dialLeaf(t, fleetToken, "n-far", "far")

	page := string(e.must(http.StatusOK, "GET", "/spaces", session, nil).body)
	for _, want := range []string{`<option value="far"></option>`, `<option value="home"></option>`, `Known locations: far, home; or auto.`} {
		if !strings.Contains(page, want) {
			t.Errorf("the Spaces page does not offer %s", want)
		}
	}
	r := e.do("POST", "/api/spaces", session, map[string]any{"name": "dev", "template_id": tpl.ID, "location": "fra"})
	if want := `location: no leaf of location "fra" has ever connected to this origin; known: far, home`; r.code != http.StatusBadRequest || r.errMsg(t) != want {
		t.Fatalf("a space at a location never seen = %d %s, want 400 %q", r.code, r.body, want)
	}
}
