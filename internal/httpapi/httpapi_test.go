package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zyeute/zyeute-redis/health"
	"github.com/zyeute/zyeute-redis/httpjson"
	"github.com/zyeute/zyeute-redis/internal/httpapi"
	"github.com/zyeute/zyeute-redis/secret"
)

func newServer(t *testing.T, token secret.String, logs io.Writer, routes ...httpapi.Route) *httptest.Server {
	t.Helper()
	h, err := health.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if logs == nil {
		logs = io.Discard
	}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	handler, err := httpapi.NewHandler(httpapi.Deps{Logger: logger, Health: h, AdminToken: token, Routes: routes})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url, auth string, body io.Reader) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func ok(w http.ResponseWriter, r *http.Request) error {
	httpjson.Write(w, http.StatusOK, map[string]string{"ok": "yes"})
	return nil
}

func TestAdminRoutes(t *testing.T) {
	t.Parallel()
	const token = "admin-token-0123456789abcdef"
	stats := httpapi.Route{Pattern: "GET /api/admin/queue/stats", Handler: httpapi.Handle(nil, ok), Admin: true}

	unset := newServer(t, "", nil, stats)
	code, body, _ := do(t, "GET", unset.URL+"/api/admin/queue/stats", "Bearer anything", nil)
	if code != 503 || !strings.Contains(body, `"error":"ADMIN_TOKEN not set"`) {
		t.Errorf("no token configured: %d %s", code, body)
	}

	var logs bytes.Buffer
	srv := newServer(t, token, &logs, stats)
	tests := []struct {
		name, auth string
		want       int
	}{
		{"no header", "", 401},
		{"wrong token", "Bearer wrong", 401},
		{"prefix of token", "Bearer " + token[:10], 401},
		{"token plus", "Bearer " + token + "x", 401},
		{"basic scheme", "Basic " + token, 401},
		{"right token", "Bearer " + token, 200},
		{"lower-case scheme", "bearer " + token, 200},
	}
	for _, tt := range tests {
		code, body, hdr := do(t, "GET", srv.URL+"/api/admin/queue/stats", tt.auth, nil)
		if code != tt.want {
			t.Errorf("%s: %d %s", tt.name, code, body)
		}
		if code == 401 && (hdr.Get("WWW-Authenticate") == "" || !strings.Contains(body, `"status":401`)) {
			t.Errorf("%s: 401 without challenge or JSON: %q", tt.name, body)
		}
		if strings.Contains(body, token) {
			t.Errorf("%s: body echoes the token", tt.name)
		}
	}
	if strings.Contains(logs.String(), token) {
		t.Error("logs contain the token")
	}
}

func TestRoutesAndErrors(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	srv := newServer(t, "", &logs,
		httpapi.Route{Pattern: "POST /api/echo", Handler: httpapi.Handle(nil, func(w http.ResponseWriter, r *http.Request) error {
			var in struct {
				Text string `json:"text"`
			}
			if err := httpapi.DecodeJSON(w, r, &in, 64); err != nil {
				return err
			}
			httpjson.Write(w, http.StatusOK, in)
			return nil
		})},
		httpapi.Route{Pattern: "GET /api/fail", Handler: httpapi.Handle(nil, func(http.ResponseWriter, *http.Request) error {
			return errors.New("db password=hunter2 exploded")
		})},
		httpapi.Route{Pattern: "GET /api/teapot", Handler: httpapi.Handle(nil, func(http.ResponseWriter, *http.Request) error {
			return httpapi.Errorf(http.StatusTeapot, "short and stout")
		})},
		httpapi.Route{Pattern: "GET /api/panic", Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })},
	)
	cases := []struct {
		method, path, body string
		want               int
		inBody             string
	}{
		{"POST", "/api/echo", `{"text":"salut"}`, 200, `"text":"salut"`},
		{"POST", "/api/echo", `{"text":"salut","extra":1}`, 400, "unknown field"},
		{"POST", "/api/echo", `{"text":`, 400, "invalid JSON"},
		{"POST", "/api/echo", `{"text":"a"} {"text":"b"}`, 400, "trailing data after the JSON value"},
		{"POST", "/api/echo", `{"text":"` + strings.Repeat("x", 100) + `"}`, 413, "larger than 64 bytes"},
		{"GET", "/api/echo", "", 405, `{"error":"method GET not allowed (allowed: POST)","status":405}`},
		{"GET", "/api/fail", "", 500, `{"error":"internal error","status":500}`},
		{"GET", "/api/teapot", "", 418, `{"error":"short and stout","status":418}`},
		{"GET", "/api/panic", "", 500, `"internal error"`},
		{"GET", "/livez", "", 200, "ok"},
		{"GET", "/readyz", "", 200, "ok"},
		{"GET", "/api/health", "", 200, `"status":"degraded"`},
		{"GET", "/nope", "", 404, `{"error":"no such route: GET /nope","status":404}`},
		{"DELETE", "/api/health", "", 405, `"status":405`},
		{"GET", "/api//health", "", 200, `"status":"degraded"`}, // ServeMux's clean-path redirect still works
		{"POST", "/api/echo", `{"text":"a","text":"b"}`, 400, `duplicate key \"text\"`},
		{"POST", "/api/echo", `{"Text":"a"}`, 400, `key \"Text\" must be spelled \"text\"`},
	}
	for _, c := range cases {
		code, body, _ := do(t, c.method, srv.URL+c.path, "", strings.NewReader(c.body))
		if code != c.want || !strings.Contains(body, c.inBody) {
			t.Errorf("%s %s %s: %d %q", c.method, c.path, c.body, code, body)
		}
		if strings.Contains(body, "hunter2") {
			t.Errorf("%s: internal error detail leaked: %q", c.path, body)
		}
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic not logged: %s", logs.String())
	}
}

func TestHealthDocumentShape(t *testing.T) {
	t.Parallel()
	srv := newServer(t, "", nil)
	_, body, _ := do(t, "GET", srv.URL+"/api/health", "", nil)
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"status": "degraded", "database": "not_configured",
		"ai":    map[string]any{"provider": "rules", "status": "ok"},
		"redis": map[string]any{"status": "not_configured", "message": "Redis not configured"},
	}
	gb, _ := json.Marshal(doc)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("health = %s\nwant     %s", gb, wb)
	}
}

func TestNewHandlerRejects(t *testing.T) {
	t.Parallel()
	h, _ := health.New(nil)
	bad := [][]httpapi.Route{
		{{Pattern: "/no-method", Handler: http.NotFoundHandler()}},
		{{Pattern: "GET /x", Handler: nil}},
		{{Pattern: "GET /api/health", Handler: http.NotFoundHandler()}},
		{{Pattern: "GET /a", Handler: http.NotFoundHandler()}, {Pattern: "GET /a", Handler: http.NotFoundHandler()}},
	}
	for _, routes := range bad {
		if _, err := httpapi.NewHandler(httpapi.Deps{Health: h, Routes: routes}); err == nil {
			t.Errorf("accepted %+v", routes)
		}
	}
	if _, err := httpapi.NewHandler(httpapi.Deps{}); err == nil {
		t.Error("accepted nil Health")
	}
}

func TestNewServerLimits(t *testing.T) {
	t.Parallel()
	s := httpapi.NewServer(":0", http.NotFoundHandler(), nil)
	if s.ReadHeaderTimeout == 0 || s.ReadTimeout == 0 || s.WriteTimeout == 0 || s.IdleTimeout == 0 || s.MaxHeaderBytes == 0 {
		t.Errorf("server limits unset: %+v", s)
	}
}
