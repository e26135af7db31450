package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zyeute/zyeute-redis/health"
	"github.com/zyeute/zyeute-redis/internal/httpapi"
	"github.com/zyeute/zyeute-redis/secret"
)

// Issue 10 item 3: the job API answered anyone. Service routes need
// JOBS_API_TOKEN (or ADMIN_TOKEN) except from a direct loopback client.
func TestServiceRoutes(t *testing.T) {
	t.Parallel()
	const svc, admin = "jobs-token-0123456789abcdef", "admin-token-0123456789abcdef"
	h, err := health.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	build := func(mode string, svcTok, adminTok secret.String) http.Handler {
		t.Helper()
		hd, err := httpapi.NewHandler(httpapi.Deps{Health: h, ServiceToken: svcTok, AdminToken: adminTok, ServiceAuth: mode,
			Routes: []httpapi.Route{{Pattern: "GET /api/jobs/{q}/{id}", Handler: httpapi.Handle(nil, ok), Service: true}}})
		if err != nil {
			t.Fatal(err)
		}
		return hd
	}
	const remote, local, local6, mapped = "203.0.113.7:40000", "127.0.0.1:40000", "[::1]:40000", "[::ffff:127.0.0.1]:40000"
	for _, tt := range []struct {
		name     string
		mode     string
		svc      secret.String
		admin    secret.String
		addr     string
		auth     string
		header   string
		want     int
		contains string
	}{
		{"remote no token", "loopback", svc, admin, remote, "", "", 401, "missing or invalid job API token"},
		{"remote service token", "loopback", svc, admin, remote, "Bearer " + svc, "", 200, ""},
		{"remote admin token", "loopback", svc, admin, remote, "Bearer " + admin, "", 200, ""},
		{"remote wrong token", "loopback", svc, admin, remote, "Bearer " + svc[:20], "", 401, ""},
		{"remote basic scheme", "loopback", svc, admin, remote, "Basic " + svc, "", 401, ""},
		{"loopback v4", "loopback", svc, admin, local, "", "", 200, ""},
		{"loopback v6", "loopback", svc, admin, local6, "", "", 200, ""},
		{"loopback mapped", "loopback", svc, admin, mapped, "", "", 200, ""},
		{"loopback wrong token", "loopback", svc, admin, local, "Bearer nope", "", 401, ""},
		{"loopback behind a proxy", "loopback", svc, admin, local, "", "X-Forwarded-For", 401, ""},
		{"loopback Forwarded", "loopback", svc, admin, local, "", "Forwarded", 401, ""},
		{"loopback X-Real-IP", "loopback", svc, admin, local, "", "X-Real-IP", 401, ""},
		{"token mode loopback", "token", svc, admin, local, "", "", 401, ""},
		{"token mode token", "token", svc, admin, local, "bearer " + svc, "", 200, ""},
		{"none mode remote", "none", "", "", remote, "", "", 200, ""},
		{"only ADMIN_TOKEN set", "loopback", "", admin, remote, "Bearer " + admin, "", 200, ""},
		{"no tokens at all remote", "loopback", "", "", remote, "", "", 403, "loopback clients only"},
		{"no tokens at all loopback", "loopback", "", "", local, "", "", 200, ""},
		{"token mode no tokens", "token", "", "", local, "", "", 503, "JOBS_API_TOKEN not set"},
	} {
		req := httptest.NewRequest("GET", "/api/jobs/q/1", nil)
		req.RemoteAddr = tt.addr
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		if tt.header != "" {
			req.Header.Set(tt.header, "198.51.100.1")
		}
		rec := httptest.NewRecorder()
		build(tt.mode, tt.svc, tt.admin).ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != tt.want || !strings.Contains(string(body), tt.contains) {
			t.Errorf("%s: %d %s, want %d containing %q", tt.name, rec.Code, body, tt.want, tt.contains)
		}
		if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without a challenge", tt.name)
		}
		if strings.Contains(string(body), svc) || strings.Contains(string(body), admin) {
			t.Errorf("%s: body echoes a token", tt.name)
		}
	}
	if _, err := httpapi.NewHandler(httpapi.Deps{Health: h, ServiceAuth: "open"}); err == nil {
		t.Error("unknown ServiceAuth accepted")
	}
	// Health and other routes stay open.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/health", nil)
	req.RemoteAddr = remote
	build("token", svc, "").ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("health from remote: %d", rec.Code)
	}
}
