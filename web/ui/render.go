package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/knot-dev/knot/shared"
)

//go:embed templates static
var files embed.FS

// staticPrefix is where the UI's stylesheets, scripts and images are served.
const staticPrefix = "/ui/static/"

// templates holds one parsed template set per page, each the layout, the
// partials pages share, and the page's content.
var templates = func() map[string]*template.Template {
	names := []string{"login", "error", spacePage, connectPage}
	for _, p := range pages {
		names = append(names, p.name)
	}
	out := make(map[string]*template.Template, len(names))
	for _, n := range names {
		out[n] = template.Must(template.New("layout.html").ParseFS(files, "templates/layout.html", "templates/tokenlist.html", "templates/"+n+".html"))
	}
	return out
}()

// asset is an embedded static file, ready to serve.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// assets maps a path under staticPrefix to its file.
var assets = func() map[string]asset {
	out := map[string]asset{}
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		out[strings.TrimPrefix(p, "static/")] = asset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic("ui: embedded assets: " + err.Error())
	}
	return out
}()

// csp allows the page's own scripts, styles, images and API calls, and
// nothing inline, from elsewhere, or in a frame.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// setHeaders sets the security headers of every UI response.
func setHeaders(h http.Header) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// showError shows err on a page with its status; a is nil when the user is
// not known. An internal error is logged and shown as "internal error".
func (u *UI) showError(w http.ResponseWriter, r *http.Request, a *shared.Actor, err error) {
	status := u.d.Status(err)
	msg := shared.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		u.d.Log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	// The status's words as the rest of the UI writes a title: "Not
	// found", not "Not Found".
	d := u.pageData(a, "error", capital(strings.ToLower(http.StatusText(status))))
	d.Status, d.Message = status, sentence(msg)
	u.render(w, r, status, "error", d)
}

// sentence returns an error's message as a page shows it: a sentence, with
// a capital and a full stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = capital(msg)
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "!") && !strings.HasSuffix(msg, "?") {
		msg += "."
	}
	return msg
}

// capital returns s with its first letter a capital.
func capital(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// render writes the page name with data d.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, d *data) {
	if d.Role == "" {
		d.Role, d.Location, d.Version = u.d.Role, u.d.Location, u.d.Version
	}
	var buf bytes.Buffer
	if err := templates[name].Execute(&buf, d); err != nil {
		u.d.Log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	setHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// Redirect sends the browser to a same-site path, with the UI's headers.
func Redirect(w http.ResponseWriter, r *http.Request, target string) {
	setHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// handleAsset serves an embedded stylesheet, script or image. Browsers
// revalidate them (no-cache) and get 304 while they are unchanged.
func handleAsset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, staticPrefix)
	a, ok := assets[name]
	h := w.Header()
	setHeaders(h)
	if !ok {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("not found\n"))
		return
	}
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
