package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/dashboard"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/internal/testlog"
	"github.com/zyeute/zyeute-redis/queue"
	"github.com/zyeute/zyeute-redis/session"
)

const testToken = "dash-Admin-Tok-0123456789"

// bundle is one dashboard on a real Redis, served by httptest.
type bundle struct {
	t      *testing.T
	rc     *redis.Client
	store  *session.Store
	srv    *dashboard.Server
	ts     *httptest.Server
	prefix string
	logs   *testlog.Buffer
}

var prefixSeq atomic.Int64

// setup starts Redis, a session store on it and the dashboard; tweak
// changes the options before New.
func setup(t *testing.T, tweak func(*dashboard.Options)) *bundle {
	t.Helper()
	r := redistest.Start(t, nil)
	rc := redis.NewClient(r.Options())
	t.Cleanup(func() { _ = rc.Close() })
	log, logs := testlog.New()
	store, err := session.NewStore(rc, &session.Options{TTL: time.Hour, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	b := &bundle{t: t, rc: rc, store: store, logs: logs, prefix: "dt" + strings.ReplaceAll(t.Name(), "/", "-")}
	o := &dashboard.Options{Redis: rc, Prefix: b.prefix, Sessions: store, AdminToken: testToken, Logger: log}
	if tweak != nil {
		tweak(o)
	}
	b.srv, err = dashboard.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := b.srv.Mux()
	// The page also reads the service's public /api/health; this test
	// server answers it the way serve does when everything is up.
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"healthy","redis":{"status":"connected","latency":0.3},"ai":{"provider":"rules","status":"ok"},"database":"not_configured"}`)
	})
	b.ts = httptest.NewServer(mux)
	t.Cleanup(b.ts.Close)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *bundle) queue(name string) *queue.Queue {
	b.t.Helper()
	q, err := queue.NewQueue(b.rc, name, &queue.QueueOptions{Prefix: b.prefix})
	if err != nil {
		b.t.Fatal(err)
	}
	return q
}

// worker starts a Go worker on name running h; closed at cleanup.
func (b *bundle) worker(name string, h queue.Handler) *queue.Worker {
	b.t.Helper()
	w, err := queue.NewWorker(b.rc, name, h, &queue.WorkerOptions{Prefix: b.prefix, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Close(ctx)
	})
	return w
}

// req sends a request to the dashboard and decodes the JSON answer.
func (b *bundle) req(method, path string, hdr map[string]string, body string) (*http.Response, map[string]any) {
	b.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, b.ts.URL+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp, out
}

// login signs in over HTTP and returns the session cookie and CSRF token.
func (b *bundle) login(hdr map[string]string) (*http.Cookie, string) {
	b.t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range hdr {
		h[k] = v
	}
	resp, body := b.req("POST", dashboard.APIPath+"/login", h, `{"token":"`+testToken+`"}`)
	if resp.StatusCode != 200 {
		b.t.Fatalf("login: %d %v", resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, dashboard.CookieName) && c.Value != "" {
			csrf, _ := body["csrf"].(string)
			return c, csrf
		}
	}
	b.t.Fatalf("login set no session cookie: %v", resp.Header["Set-Cookie"])
	return nil, ""
}

func cookieHdr(c *http.Cookie, extra map[string]string) map[string]string {
	h := map[string]string{"Cookie": c.Name + "=" + c.Value}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

// eventually polls cond until it holds or within passes.
func eventually(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
