package session

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/redistest"
)

func newStore(t *testing.T, opts *Options) (*Store, *redistest.Server, *bytes.Buffer) {
	t.Helper()
	srv := redistest.Start(t, nil)
	var logs bytes.Buffer
	o := Options{}
	if opts != nil {
		o = *opts
	}
	o.KeyPrefix = redistest.KeyPrefix(t) + ":session:"
	o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := NewStore(srv.Client(t), &o)
	if err != nil {
		t.Fatal(err)
	}
	return st, srv, &logs
}

func TestRedisRoundTripWithTTL(t *testing.T) {
	t.Parallel()
	st, srv, _ := newStore(t, &Options{TTL: time.Hour})
	ctx := context.Background()
	sess, _ := st.New()
	sess.Values["user"] = "42"
	if err := st.Save(ctx, sess); err != nil || sess.Backend != "redis" {
		t.Fatalf("save: %v backend=%s", err, sess.Backend)
	}
	ttl := srv.Client(t).TTL(ctx, st.opts.KeyPrefix+sess.ID).Val()
	if ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("TTL = %s", ttl)
	}
	got, err := st.Get(ctx, sess.ID)
	if err != nil || got.Values["user"] != "42" || got.Backend != "redis" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if err := st.Delete(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, sess.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestFallsBackToMemoryWhenRedisDiesAndReturns(t *testing.T) {
	t.Parallel()
	st, srv, logs := newStore(t, &Options{RedisTimeout: 200 * time.Millisecond})
	ctx := context.Background()
	srv.Kill()
	sess, _ := st.New()
	sess.Values["user"] = "7"
	if err := st.Save(ctx, sess); err != nil || sess.Backend != "memory" {
		t.Fatalf("save while down: %v backend=%s", err, sess.Backend)
	}
	got, err := st.Get(ctx, sess.ID)
	if err != nil || got.Values["user"] != "7" || got.Backend != "memory" {
		t.Fatalf("get while down: %+v %v", got, err)
	}
	if n := strings.Count(logs.String(), "Redis unavailable"); n != 1 {
		t.Fatalf("degraded logged %d times, want once:\n%s", n, logs.String())
	}
	srv.Restart()
	// The memory session is still served after Redis returns (nothing lost),
	if got, err := st.Get(ctx, sess.ID); err != nil || got.Backend != "memory" {
		t.Fatalf("get after restart: %+v %v", got, err)
	}
	// and its next save moves it to Redis.
	if err := st.Save(ctx, got); err != nil || got.Backend != "redis" || st.MemoryCount() != 0 {
		t.Fatalf("save after restart: %v backend=%s mem=%d", err, got.Backend, st.MemoryCount())
	}
	if strings.Contains(logs.String(), sess.ID) {
		t.Fatal("a session id reached the log")
	}
}

func TestNotConfiguredUsesMemory(t *testing.T) {
	t.Parallel()
	st, err := NewStore(nil, &Options{MaxMemorySessions: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ids []string
	for i := 0; i < 3; i++ {
		s, _ := st.New()
		if err := st.Save(ctx, s); err != nil || s.Backend != "memory" {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	if st.MemoryCount() != 2 {
		t.Fatalf("memory store not bounded: %d", st.MemoryCount())
	}
	if _, err := st.Get(ctx, ids[2]); err != nil {
		t.Fatalf("newest session evicted: %v", err)
	}
}

func TestRejectsBadInput(t *testing.T) {
	t.Parallel()
	st, _, _ := newStore(t, nil)
	ctx := context.Background()
	for _, id := range []string{"", "short", strings.Repeat("!", 43), "../../etc/passwd"} {
		if _, err := st.Get(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v", id, err)
		}
	}
	s, _ := st.New()
	s.Values["big"] = strings.Repeat("x", MaxValuesBytes)
	if err := st.Save(ctx, s); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("oversized save: %v", err)
	}
	if _, err := NewStore(nil, &Options{TTL: time.Millisecond}); err == nil {
		t.Fatal("TTL below 1s accepted")
	}
}

func TestMiddlewareLoginLogout(t *testing.T) {
	t.Parallel()
	st, _, _ := newStore(t, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := Set(r.Context(), "user", r.URL.Query().Get("u")); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, Get(r.Context(), "user"))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) { Clear(r.Context()) })
	ts := httptest.NewServer(st.Middleware(CookieOptions{}, mux))
	defer ts.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	body := func(method, path string) string {
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := body("GET", "/me"); got != "" {
		t.Fatalf("anonymous /me = %q", got)
	}
	body("POST", "/login?u=marie")
	if got := body("GET", "/me"); got != "marie" {
		t.Fatalf("/me after login = %q", got)
	}
	body("POST", "/logout")
	if got := body("GET", "/me"); got != "" {
		t.Fatalf("/me after logout = %q", got)
	}
}
