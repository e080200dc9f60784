package ui

import (
	"errors"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// Forms without their script. Every form that carries a password, a TOTP
// code or a secret is a POST form, so that a browser that submits it
// before its script has loaded, or with scripts off, never puts what was
// typed in a URL (history, server and proxy logs, Referer). The login
// form then works without script: POST /login logs in as POST
// /api/auth/web does and comes back to the login page, which sends the
// user on; a refusal shows on the login page again, with the email typed
// but no password or code. The other forms POST to their own page, which
// answers that they need JavaScript and saves nothing.
//
// A form's POST carries no CSRF token: nothing in the browser holds one
// before a login. So POST /login takes only a form that a page of this
// site sent, as the browser tells (Sec-Fetch-Site, or Origin from a browser
// older than that); a form of another site cannot log a browser in to
// an account of the attacker's choosing.

// needsScript is the answer to a form that works only with its script.
const needsScript = "this form needs JavaScript, which is off or has not loaded here: nothing was saved. Turn JavaScript on for this site, reload the page and send the form again"

// maxFormBody bounds the body of a login form sent without its script.
const maxFormBody = 16 << 10

// enrolment is a TOTP enrolment shown on the login page.
type enrolment struct {
	Secret, URI string
	QR          template.URL // a data: URL the server made
}

// SecretGroups is the secret in groups of four characters, as the page
// shows it (showTOTPSecret in dom.js shows it alike).
func (e *enrolment) SecretGroups() []string {
	var out []string
	for s := e.Secret; s != ""; {
		n := min(4, len(s))
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

// loginPath is the login page that sends the user on to target.
func loginPath(target string) string {
	if target == "" {
		return "/login"
	}
	return "/login?redirect=" + url.QueryEscape(target)
}

// carriesCredentials reports whether v holds a field of the login form
// that is secret or names the account.
func carriesCredentials(v url.Values) bool {
	for _, k := range []string{"email", "password", "password2", "totp_code", "username"} {
		if v.Has(k) {
			return true
		}
	}
	return false
}

// sameOrigin reports whether the browser says that a page of this site
// sent r.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	o, err := url.Parse(r.Header.Get("Origin"))
	return err == nil && o.Host != "" && o.Host == r.Host
}

func (u *UI) usingTOTP() bool { return u.d.UsingTOTP != nil && u.d.UsingTOTP() }

// handleLoginForm serves POST /login: the login (or first user's) form,
// sent by a browser without its script.
func (u *UI) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	formErr := r.ParseForm()
	f := r.PostForm
	d := &data{Title: "Log in", Page: "login", Redirect: safeRedirect(f.Get("redirect")), Email: f.Get("email"),
		NewUsername: f.Get("username"), TOTP: u.usingTOTP()}
	setup, err := u.needsSetup(r)
	d.Setup = setup
	switch {
	case err != nil:
		u.refuseForm(w, r, d, err)
	case !sameOrigin(r):
		u.refuseForm(w, r, d, shared.Errorf(shared.EFORBIDDEN, "this login form was not sent from a page of this site: open the login page here and log in on it"))
	case formErr != nil:
		u.refuseForm(w, r, d, shared.Errorf(shared.EINVALID, "the login form could not be read: send it from the login page (at most %d bytes)", maxFormBody))
	case setup || u.d.Login == nil:
		u.refuseForm(w, r, d, shared.Errorf(shared.EINVALID, "%s", needsScript))
	default:
		_, err := u.d.Login(w, r, shared.LoginRequest{Email: f.Get("email"), Password: f.Get("password"), TOTPCode: f.Get("totp_code")})
		if err != nil {
			u.refuseForm(w, r, d, err)
			return
		}
		Redirect(w, r, loginPath(d.Redirect))
	}
}

// needsSetup reports whether no user exists yet; false on a leaf.
func (u *UI) needsSetup(r *http.Request) (bool, error) {
	if u.d.Users == nil {
		return false, nil
	}
	return u.d.Users.NeedsSetup(r.Context())
}

// refuseForm shows the login page of d again with err: a TOTP enrolment's
// secret (the page's notice says what to do with it: the API's message,
// which names its JSON fields, is not shown), or err's message. Nothing
// typed but the email and username comes back.
func (u *UI) refuseForm(w http.ResponseWriter, r *http.Request, d *data, err error) {
	if d.Setup {
		d.Title = "Set up knot"
	}
	status := u.d.Status(err)
	var en *shared.TOTPEnrolment
	var ra interface{ RetryAfter() time.Duration }
	switch {
	case errors.As(err, &en):
		body := api.NewEnrolment(en)
		d.Enrolment, d.TOTP = &enrolment{Secret: en.Secret, URI: en.URI, QR: template.URL(body.TOTPQR)}, true
	case status == http.StatusInternalServerError:
		u.d.Log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		d.Error = "Internal error."
	default:
		d.Error = sentence(shared.ErrorMessage(err))
	}
	if errors.As(err, &ra) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ra.RetryAfter().Seconds()))))
	}
	u.render(w, r, status, "login", d)
}

// handleScriptlessForm serves a POST to a page: one of its forms, sent by
// a browser without the page's script. Nothing is read or saved.
func (u *UI) handleScriptlessForm(w http.ResponseWriter, r *http.Request) {
	a, err := u.d.Authenticate(r)
	if err != nil {
		a = nil
	}
	u.showError(w, r, a, shared.Errorf(shared.EINVALID, "%s", needsScript))
}
