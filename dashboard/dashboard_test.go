package dashboard_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/zyeute/zyeute-redis/dashboard"
)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	h := dashboard.Handler()
	for _, p := range dashboard.Patterns {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestFilesAndHeaders(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	tests := []struct {
		path, status, ctype, contains string
	}{
		{"/admin", "200", "text/html; charset=utf-8", `<script src="/admin/app.js" defer></script>`},
		{"/admin/", "200", "text/html; charset=utf-8", `id="login-form"`},
		{"/admin/index.html", "200", "text/html; charset=utf-8", `id="queues-body"`},
		{"/admin/app.js", "200", "text/javascript; charset=utf-8", "/admin/api"},
		{"/admin/style.css", "200", "text/css; charset=utf-8", ".badge"},
		{"/admin/favicon.svg", "200", "image/svg+xml", "<svg"},
		{"/admin/nope.js", "404", "text/plain; charset=utf-8", "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			resp, body := get(t, srv.URL+tt.path, nil)
			if got := resp.Status[:3]; got != tt.status {
				t.Fatalf("status %s, want %s", resp.Status, tt.status)
			}
			if tt.ctype != "" && resp.Header.Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tt.ctype)
			}
			if !strings.Contains(body, tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
			if tt.status != "200" {
				return
			}
			for k, want := range map[string]string{
				"Content-Security-Policy": dashboard.ContentSecurityPolicy,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"X-Frame-Options":         "DENY",
				"Cache-Control":           "no-cache",
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if resp.Header.Get("ETag") == "" {
				t.Error("no ETag")
			}
		})
	}
}

// TestNoEscape: only the embedded files are served, whatever the path.
func TestNoEscape(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	for _, p := range []string{"/admin/../go.mod", "/admin/%2e%2e/dashboard.go", "/admin/static/app.js", "/admin/dashboard.go", "/admin//etc/passwd"} {
		resp, body := get(t, srv.URL+p, nil)
		if strings.Contains(body, "package dashboard") || strings.Contains(body, "module ") || strings.Contains(body, "root:") ||
			(resp.StatusCode == http.StatusOK && !strings.Contains(body, "<!doctype html>")) {
			t.Errorf("%s: %s served %q", p, resp.Status, body[:min(len(body), 80)])
		}
	}
}

func TestCSP(t *testing.T) {
	t.Parallel()
	csp := dashboard.ContentSecurityPolicy
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP lacks %q: %s", want, csp)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("CSP contains %q: %s", bad, csp)
		}
	}
}

func TestETag304(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	resp, _ := get(t, srv.URL+"/admin/app.js", nil)
	etag := resp.Header.Get("ETag")
	resp, body := get(t, srv.URL+"/admin/app.js", map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("conditional GET: %s, %d bytes", resp.Status, len(body))
	}
}

// TestNoInlineCodeNoInnerHTML keeps the page compatible with its CSP and
// every server value out of the HTML parser.
func TestNoInlineCodeNoInnerHTML(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	_, html := get(t, srv.URL+"/admin", nil)
	_, js := get(t, srv.URL+"/admin/app.js", nil)
	if m := regexp.MustCompile(`<script[^>]*>[^<]+</script>`).FindString(html); m != "" {
		t.Errorf("inline script: %s", m)
	}
	if m := regexp.MustCompile(`(?i)\son[a-z]+\s*=`).FindString(html); m != "" {
		t.Errorf("inline event handler: %s", m)
	}
	if m := regexp.MustCompile(`(?i)\sstyle\s*=`).FindString(html); m != "" {
		t.Errorf("inline style (blocked by the CSP): %s", m)
	}
	if m := regexp.MustCompile(`(?i)https?://`).FindString(html + js); m != "" {
		t.Errorf("absolute URL (CDN?) in the page: %s", m)
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "localStorage", "document.cookie"} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
	// The token form must never navigate (a GET form would put the token in the URL).
	if !strings.Contains(html, `<form id="login-form" method="dialog"`) {
		t.Error("login form is not method=dialog")
	}
	// Every asset the page names is served.
	for _, m := range regexp.MustCompile(`(?:src|href)="(/admin/[^"]+)"`).FindAllStringSubmatch(html, -1) {
		if resp, _ := get(t, srv.URL+m[1], nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s", m[1], resp.Status)
		}
	}
}

func TestMethods(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	resp, err := http.Post(srv.URL+"/admin", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /admin: %s", resp.Status)
	}
	req, _ := http.NewRequest(http.MethodHead, srv.URL+"/admin", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD /admin: %s", resp.Status)
	}
}
