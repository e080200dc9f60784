package leaf_test

import (
	"context"
	"testing"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
)

// localAuth is a shared.AuthService that logs in the password "pw" only.
type localAuth struct {
	shared.AuthService
	loggedOut []string
}

func (l *localAuth) Login(_ context.Context, req shared.LoginRequest) (*shared.LoginResult, error) {
	if req.Password != "pw" {
		return nil, shared.Errorf(shared.EUNAUTHORIZED, "invalid email or password")
	}
	return &shared.LoginResult{Secret: "s", Session: &shared.Session{Meta: shared.Meta{ID: "se1"}}}, nil
}

func (l *localAuth) Logout(_ context.Context, id string) error {
	l.loggedOut = append(l.loggedOut, id)
	return nil
}

// A login at a leaf opens a session at the origin too, with the same
// credentials and for the leaf's session; a refused one does not, and a
// logout ends both.
func TestAuthServiceMirrorsSessionsAtTheOrigin(t *testing.T) {
	local := &localAuth{}
	var opened []string
	var ended []string
	svc := leaf.NewAuthService(leaf.AuthOptions{
		Local: local,
		OriginLogin: func(_ context.Context, id string, req shared.LoginRequest) {
			opened = append(opened, id+" "+req.Email+" "+req.Password+" "+req.TOTPCode)
		},
		OriginLogout: func(_ context.Context, id string) { ended = append(ended, id) },
	})
	ctx := context.Background()
	if _, err := svc.Login(ctx, shared.LoginRequest{Email: "ann@example.com", Password: "nope"}); shared.ErrorCode(err) != shared.EUNAUTHORIZED {
		t.Fatalf("wrong password = %v", err)
	}
	if len(opened) != 0 {
		t.Fatalf("a refused login opened %v at the origin", opened)
	}
	out, err := svc.Login(ctx, shared.LoginRequest{Email: "ann@example.com", Password: "pw", TOTPCode: "123456"})
	if err != nil || out.Secret != "s" {
		t.Fatalf("Login = %+v, %v", out, err)
	}
	if len(opened) != 1 || opened[0] != "se1 ann@example.com pw 123456" {
		t.Fatalf("origin logins = %q", opened)
	}
	if err := svc.Logout(ctx, "se1"); err != nil {
		t.Fatal(err)
	}
	if len(local.loggedOut) != 1 || len(ended) != 1 || ended[0] != "se1" {
		t.Fatalf("logout ended %v here and %v at the origin", local.loggedOut, ended)
	}
}

func (l *localAuth) OwnSessions(context.Context) ([]*shared.SessionInfo, error) {
	return []*shared.SessionInfo{{ID: "pub1", SessionID: "se1"}, {ID: "pub2", SessionID: "se2"}}, nil
}

func (l *localAuth) EndOwnSession(_ context.Context, id string) error {
	if id != "pub1" && id != "pub2" {
		return shared.Errorf(shared.ENOTFOUND, "you have no session %q here", id)
	}
	l.loggedOut = append(l.loggedOut, id)
	return nil
}

// A user who ends one of their sessions at a leaf ends the session the
// leaf holds at the origin for it too; one they do not have ends nothing.
func TestEndingOwnSessionEndsItAtTheOrigin(t *testing.T) {
	local := &localAuth{}
	var ended []string
	svc := leaf.NewAuthService(leaf.AuthOptions{Local: local,
		OriginLogout: func(_ context.Context, id string) { ended = append(ended, id) }})
	ctx := context.Background()
	if err := svc.EndOwnSession(ctx, "nope"); shared.ErrorCode(err) != shared.ENOTFOUND || len(ended) != 0 {
		t.Fatalf("ending no session = %v, ended %v at the origin", err, ended)
	}
	if err := svc.EndOwnSession(ctx, "pub2"); err != nil {
		t.Fatal(err)
	}
	if len(local.loggedOut) != 1 || local.loggedOut[0] != "pub2" || len(ended) != 1 || ended[0] != "se2" {
		t.Fatalf("ended %v here and %v at the origin, want pub2 and se2", local.loggedOut, ended)
	}
}
