package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/mysql"
	"github.com/knot-dev/knot/storage/mysql/mysqltest"
	"github.com/knot-dev/knot/storage/redis"
	"github.com/knot-dev/knot/storage/redis/redistest"
	"github.com/knot-dev/knot/web"
)

// Several servers on one MySQL or Redis database keep one quota and one
// set of names between them: each test runs two web servers, each with its
// own store on the same database, behind real listeners, and sends the
// same user's concurrent requests to both.

func TestQuotasHoldAcrossServersOnMariaDB(t *testing.T) {
	db := mysqltest.MustStart(t)
	testQuotasAcrossServers(t, func(t *testing.T) func() storage.Store {
		name := db.NewDatabase(t)
		return func() storage.Store {
			s, err := mysql.Open(context.Background(), db.Options(name))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

func TestQuotasHoldAcrossServersOnRedis(t *testing.T) {
	rs := redistest.MustStart(t)
	testQuotasAcrossServers(t, func(t *testing.T) func() storage.Store {
		prefix := rs.NewPrefix(t)
		return func() storage.Store {
			s, err := redis.Open(context.Background(), rs.Options(prefix))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

// pair is two servers on one database, and the store of the first.
type pair struct {
	t     *testing.T
	store storage.Store
	urls  [2]string
}

// newPair starts two servers, each on a store that open opens.
func newPair(t *testing.T, open func() storage.Store) *pair {
	p := &pair{t: t}
	for i := range p.urls {
		st := open()
		t.Cleanup(func() { st.Close() })
		if i == 0 {
			p.store = st
		}
		srv, err := web.NewTest(web.TestOptions{
			Store:    st,
			Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
			Location: "home",
			Spaces:   &fakeController{store: st},
		})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv.Handler())
		t.Cleanup(hs.Close)
		p.urls[i] = hs.URL
	}
	return p
}

// put stores rec through the first server's store.
func (p *pair) put(rec shared.Record) {
	p.t.Helper()
	if err := p.store.Put(context.Background(), rec); err != nil {
		p.t.Fatal(err)
	}
}

// user stores an active user with limits set by limit and returns a
// session token for them.
func (p *pair) user(name string, limit func(*shared.User)) (*shared.User, string) {
	p.t.Helper()
	now := time.Now().UTC()
	u := &shared.User{Meta: shared.Meta{ID: newUUID(p.t), CreatedAt: now, UpdatedAt: now}, Username: name, Email: name + "@example.com",
		PasswordHash: passwordHash(p.t), Roles: []string{shared.UserRoleID}, Active: true}
	if limit != nil {
		limit(u)
	}
	p.put(u)
	secret := crypt.NewToken()
	p.put(&shared.Session{Meta: shared.Meta{ID: crypt.HashToken(secret), CreatedAt: now, UpdatedAt: now}, UserID: u.ID, ExpiresAt: now.Add(time.Hour)})
	return u, secret
}

// template stores a manual template that needs units compute units.
func (p *pair) template(name string, units int) *shared.Template {
	p.t.Helper()
	tpl := &shared.Template{Meta: shared.Meta{ID: newUUID(p.t)}, Name: name, Kind: shared.TemplateManual, ComputeUnits: units}
	tpl.Hash = tpl.ComputeHash()
	p.put(tpl)
	return tpl
}

// burstCall is one request of a burst: its server (0 or 1), path and body.
type burstCall struct {
	server int
	path   string
	body   any
}

// burst sends every call at once, each to its server with token (none
// when ""), and returns how many answered each status.
func (p *pair) burst(token string, calls []burstCall) map[int]int {
	p.t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	codes := make([]int, len(calls))
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body io.Reader
			if c.body != nil {
				data, _ := json.Marshal(c.body)
				body = bytes.NewReader(data)
			}
			rq, err := http.NewRequest("POST", p.urls[c.server]+c.path, body)
			if err != nil {
				errs[i] = err
				return
			}
			if token != "" {
				rq.Header.Set("Authorization", "Bearer "+token)
			}
			if body != nil {
				rq.Header.Set("Content-Type", "application/json")
			}
			<-start
			res, err := client.Do(rq)
			if err != nil {
				errs[i] = err
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			codes[i] = res.StatusCode
			if res.StatusCode >= 500 && res.StatusCode != http.StatusInsufficientStorage {
				errs[i] = fmt.Errorf("POST %s = %d %s", c.path, res.StatusCode, b)
			}
		}()
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for i, c := range codes {
		if errs[i] != nil {
			p.t.Fatal(errs[i])
		}
		count[c]++
	}
	return count
}

// spacesOf returns the spaces of userID in the store.
func (p *pair) spacesOf(userID string) []*shared.Space {
	p.t.Helper()
	spaces, err := storage.ListWhere(context.Background(), p.store, func(sp *shared.Space) bool { return sp.UserID == userID })
	if err != nil {
		p.t.Fatal(err)
	}
	return spaces
}

// perServer is how many requests each of the two servers gets in a burst.
const perServer = 10

func testQuotasAcrossServers(t *testing.T, fresh func(t *testing.T) func() storage.Store) {
	t.Run("MaxSpaces", func(t *testing.T) {
		p := newPair(t, fresh(t))
		const max = 3
		tpl := p.template("manual", 0)
		// A few users in turn, each with one burst, so that a race that
		// lets one request too many through shows.
		for _, name := range []string{"ann", "bob", "cat"} {
			u, token := p.user(name, func(u *shared.User) { u.MaxSpaces = max })
			var calls []burstCall
			for i := range 2 * perServer {
				calls = append(calls, burstCall{i % 2, "/api/spaces", map[string]any{"name": fmt.Sprintf("s%d", i), "template_id": tpl.ID}})
			}
			got := p.burst(token, calls)
			if got[http.StatusCreated] != max || got[http.StatusInsufficientStorage] != 2*perServer-max {
				t.Errorf("%s: answers %v; want %d × 201 and %d × 507", name, got, max, 2*perServer-max)
			}
			if n := len(p.spacesOf(u.ID)); n != max {
				t.Errorf("%s has %d spaces with max_spaces %d", name, n, max)
			}
		}
	})

	t.Run("MaxSpacesOfGroups", func(t *testing.T) {
		p := newPair(t, fresh(t))
		g := &shared.Group{Meta: shared.Meta{ID: newUUID(t)}, Name: "devs", MaxSpaces: 2}
		p.put(g)
		ann, token := p.user("ann", func(u *shared.User) { u.MaxSpaces, u.Groups = 1, []string{g.ID} })
		tpl := p.template("manual", 0)
		var calls []burstCall
		for i := range 2 * perServer {
			calls = append(calls, burstCall{i % 2, "/api/spaces", map[string]any{"name": fmt.Sprintf("s%d", i), "template_id": tpl.ID}})
		}
		got := p.burst(token, calls)
		if got[http.StatusCreated] != 3 {
			t.Errorf("answers %v; want 3 × 201 (1 own + 2 of the group)", got)
		}
		if n := len(p.spacesOf(ann.ID)); n != 3 {
			t.Errorf("ann has %d spaces; want 3", n)
		}
	})

	t.Run("SpaceNames", func(t *testing.T) {
		p := newPair(t, fresh(t))
		ann, token := p.user("ann", nil)
		tpl := p.template("manual", 0)
		var calls []burstCall
		for i := range 2 * perServer {
			calls = append(calls, burstCall{i % 2, "/api/spaces", map[string]any{"name": "dev", "template_id": tpl.ID}})
		}
		got := p.burst(token, calls)
		if got[http.StatusCreated] != 1 || got[http.StatusConflict] != 2*perServer-1 {
			t.Errorf("answers %v; want one 201 and %d × 409", got, 2*perServer-1)
		}
		if n := len(p.spacesOf(ann.ID)); n != 1 {
			t.Errorf("ann has %d spaces named dev", n)
		}
	})

	t.Run("ComputeUnits", func(t *testing.T) {
		p := newPair(t, fresh(t))
		ann, token := p.user("ann", func(u *shared.User) { u.ComputeUnits = 6 })
		tpl := p.template("heavy", 3)
		var calls []burstCall
		for i := range 2 * perServer {
			sp := &shared.Space{Meta: shared.Meta{ID: newUUID(t)}, UserID: ann.ID, TemplateID: tpl.ID, Name: fmt.Sprintf("s%d", i),
				Location: "home", Shell: "bash", State: shared.SpaceStopped, TemplateHash: tpl.Hash}
			p.put(sp)
			calls = append(calls, burstCall{i % 2, "/api/spaces/" + sp.ID + "/start", nil})
		}
		got := p.burst(token, calls)
		if got[http.StatusOK] != 2 || got[http.StatusInsufficientStorage] != 2*perServer-2 {
			t.Errorf("answers %v; want 2 × 200 and %d × 507", got, 2*perServer-2)
		}
		deployed := 0
		for _, sp := range p.spacesOf(ann.ID) {
			if sp.Deployed() {
				deployed++
			}
		}
		if deployed != 2 {
			t.Errorf("%d spaces of 3 units each run with 6 compute units", deployed)
		}
	})

	t.Run("APITokens", func(t *testing.T) {
		p := newPair(t, fresh(t))
		ann, token := p.user("ann", nil)
		const max = 100 // the most API tokens a user holds
		for i := range max - 1 {
			p.put(&shared.Token{Meta: shared.Meta{ID: crypt.HashToken(crypt.NewToken())}, UserID: ann.ID, Name: fmt.Sprintf("t%d", i)})
		}
		var calls []burstCall
		for i := range 2 * perServer {
			calls = append(calls, burstCall{i % 2, "/api/tokens", map[string]any{"name": fmt.Sprintf("new%d", i)}})
		}
		got := p.burst(token, calls)
		if got[http.StatusCreated] != 1 || got[http.StatusInsufficientStorage] != 2*perServer-1 {
			t.Errorf("answers %v; want one 201 and %d × 507", got, 2*perServer-1)
		}
		held, err := storage.ListWhere(context.Background(), p.store, func(tk *shared.Token) bool { return tk.UserID == ann.ID })
		if err != nil {
			t.Fatal(err)
		}
		if len(held) != max {
			t.Errorf("ann holds %d API tokens; want %d", len(held), max)
		}
	})

	t.Run("Usernames", func(t *testing.T) {
		p := newPair(t, fresh(t))
		_, token := p.user("root", func(u *shared.User) { u.Roles = []string{shared.AdminRoleID} })
		var calls []burstCall
		for i := range 2 * perServer {
			calls = append(calls, burstCall{i % 2, "/api/users", map[string]any{"username": "zoe", "email": fmt.Sprintf("zoe%d@example.com", i), "password": testPassword}})
		}
		got := p.burst(token, calls)
		if got[http.StatusCreated] != 1 || got[http.StatusConflict] != 2*perServer-1 {
			t.Errorf("answers %v; want one 201 and %d × 409", got, 2*perServer-1)
		}
	})

	t.Run("FirstUser", func(t *testing.T) {
		p := newPair(t, fresh(t))
		var calls []burstCall
		for i := range 2 * perServer {
			name := fmt.Sprintf("first%d", i)
			calls = append(calls, burstCall{i % 2, "/api/users", map[string]any{"username": name, "email": name + "@example.com", "password": testPassword}})
		}
		got := p.burst("", calls)
		if got[http.StatusCreated] != 1 || got[http.StatusCreated]+got[http.StatusConflict]+got[http.StatusUnauthorized] != 2*perServer {
			t.Errorf("answers %v; want one 201, and 409 or 401 for the others", got)
		}
		users, err := p.store.List(context.Background(), shared.KindUser)
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != 1 {
			t.Errorf("%d users after concurrent setups; want 1", len(users))
		}
	})
}

// A start that its controller fails without recording anything gives the
// compute units it claimed back.
func TestFailedStartGivesItsComputeUnitsBack(t *testing.T) {
	e := newEnv(t)
	ann, token := e.user("ann")
	ann.ComputeUnits = 3
	if err := e.store.Put(context.Background(), ann); err != nil {
		t.Fatal(err)
	}
	heavy := &shared.Template{Meta: shared.Meta{ID: newUUID(t)}, Name: "heavy", Kind: shared.TemplateManual, ComputeUnits: 3}
	heavy.Hash = heavy.ComputeHash()
	if err := e.store.Put(context.Background(), heavy); err != nil {
		t.Fatal(err)
	}
	a, b := e.space(ann, heavy, "a"), e.space(ann, heavy, "b")

	e.ctl.mu.Lock()
	e.ctl.StartErr = shared.Errorf(shared.EUNAVAILABLE, "docker is not answering")
	e.ctl.mu.Unlock()
	e.must(http.StatusServiceUnavailable, "POST", "/api/spaces/"+a.ID+"/start", token, nil)
	if sp, err := getRecord[shared.Space](e, a.ID); err != nil || sp.State != shared.SpaceStopped {
		t.Fatalf("space after a failed start: %+v, %v; want it stopped", sp, err)
	}
	e.ctl.mu.Lock()
	e.ctl.StartErr = nil
	e.ctl.mu.Unlock()
	e.must(http.StatusOK, "POST", "/api/spaces/"+b.ID+"/start", token, nil)
}
