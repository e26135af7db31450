// Package dashboard is the admin dashboard: one static page (HTML, a
// script and a style sheet, embedded in the binary) and the server side it
// talks to, under Path.
//
// The page's files hold no data and are served without authentication
// (Handler). Server builds the rest (New, then Routes): sign-in with the
// admin token once, which starts a session in the session store (HttpOnly,
// SameSite=Strict cookie; CSRF token on every POST and DELETE; idle and
// absolute timeouts; sign-out that sticks), and the JSON and live
// (Server-Sent Events) endpoints under APIPath for queues, jobs, the
// queue's events stream and Redis. The API also takes
// "Authorization: Bearer <admin token>" for scripts.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Path is where the dashboard lives: mount Handler on "GET /admin" and
// "GET /admin/" (see Patterns).
const Path = "/admin"

// Patterns are the ServeMux patterns Handler serves.
var Patterns = []string{"GET " + Path, "GET " + Path + "/"}

// ContentSecurityPolicy is sent with every file: scripts, styles, images
// and requests from this origin only, no inline script, no framing, no
// form posts elsewhere.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

//go:embed static
var static embed.FS

type file struct {
	name        string
	contentType string
	body        []byte
	etag        string
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// Handler returns the handler for the dashboard's files: Path and Path+"/"
// answer index.html, Path+"/<name>" a file of the page, anything else 404.
// Every answer carries the security headers (CSP, nosniff, no referrer, no
// framing) and Cache-Control: no-cache with a strong ETag, so a new binary
// is picked up at once and an unchanged file costs a 304.
func Handler() http.Handler {
	files, err := load()
	if err != nil {
		// The files are embedded at build time: this cannot fail at run
		// time unless the package itself is broken.
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		name := strings.TrimPrefix(r.URL.Path, Path)
		name = strings.TrimPrefix(name, "/")
		if name == "" {
			name = "index.html"
		}
		f, ok := files[name]
		if !ok {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte("404 page not found\n"))
			return
		}
		w.Header().Set("Content-Type", f.contentType)
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", f.etag)
		http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
	})
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}

// load reads the embedded files once; the names are flat (no directories).
func load() (map[string]file, error) {
	out := map[string]file{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("dashboard: no content type for %s", p)
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := strings.TrimPrefix(p, "static/")
		out[name] = file{name: name, contentType: ct, body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, ok := out["index.html"]; !ok {
		return nil, fmt.Errorf("dashboard: index.html not embedded")
	}
	return out, nil
}
