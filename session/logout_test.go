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
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/internal/redistest"
)

// newDurableStore is newStore on a Redis with an append-only file synced on
// every write, so that a SIGKILLed and restarted Redis comes back with its
// keys: the case where a logout that was not written would be undone.
func newDurableStore(t *testing.T, opts *Options) (*Store, *redistest.Server, *redis.Client, *bytes.Buffer) {
	t.Helper()
	srv := redistest.Start(t, &redistest.Options{Args: []string{"--appendonly", "yes", "--appendfsync", "always"}})
	var logs bytes.Buffer
	o := Options{RedisTimeout: 200 * time.Millisecond, RetryInterval: 50 * time.Millisecond}
	if opts != nil {
		o = *opts
	}
	o.KeyPrefix = redistest.KeyPrefix(t) + ":session:"
	o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rdb := srv.Client(t)
	st, err := NewStore(rdb, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st, srv, rdb, &logs
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLogoutWhileRedisDownSticks: a session deleted while Redis is down is
// reported (ErrDeletePending), refused at once, still refused when Redis
// comes back with the key (AOF), and its key is then deleted by the retry
// loop, so other processes stop accepting it too (issue 10 item 8).
func TestLogoutWhileRedisDownSticks(t *testing.T) {
	t.Parallel()
	st, srv, _, logs := newDurableStore(t, nil)
	ctx := context.Background()
	sess, _ := st.New()
	sess.Values["user"] = "42"
	if err := st.Save(ctx, sess); err != nil || sess.Backend != "redis" {
		t.Fatalf("save: %v %s", err, sess.Backend)
	}
	key := st.opts.KeyPrefix + sess.ID

	srv.Kill()
	err := st.Delete(ctx, sess.ID)
	if !errors.Is(err, ErrDeletePending) {
		t.Fatalf("Delete while Redis is down = %v, want ErrDeletePending", err)
	}
	if st.PendingDeletes() != 1 {
		t.Fatalf("pending = %d", st.PendingDeletes())
	}
	if _, err := st.Get(ctx, sess.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after logout, Redis down: %v", err)
	}
	// A request still holding the session cannot bring it back.
	if err := st.Save(ctx, sess); err == nil {
		t.Fatal("Save of a deleted session succeeded")
	}

	srv.Restart()
	// The key came back with Redis (AOF): the logout must still win, in this
	// store at once and in Redis once the retry loop has run.
	probe := redis.NewClient(srv.Options())
	defer probe.Close()
	if _, err := st.Get(ctx, sess.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Redis returned: %v", err)
	}
	waitUntil(t, "the pending deletion to reach Redis", func() bool {
		return probe.Exists(ctx, key).Val() == 0 && st.PendingDeletes() == 0
	})
	// Another process (another store on the same Redis) does not find it.
	other, err := NewStore(probe, &Options{KeyPrefix: st.opts.KeyPrefix})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(ctx, sess.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another store after the retry: %v", err)
	}
	if strings.Contains(logs.String(), sess.ID) {
		t.Fatal("a session id reached the log")
	}
}

// TestLogoutReplayedOnGet: with the background loop stopped, the
// next Get of the id writes the deletion.
func TestLogoutReplayedOnGet(t *testing.T) {
	t.Parallel()
	st, srv, _, _ := newDurableStore(t, &Options{RedisTimeout: 200 * time.Millisecond, RetryInterval: -1})
	ctx := context.Background()
	sess, _ := st.New()
	_ = st.Save(ctx, sess)
	srv.Kill()
	if err := st.Delete(ctx, sess.ID); !errors.Is(err, ErrDeletePending) {
		t.Fatalf("Delete = %v", err)
	}
	srv.Restart()
	probe := redis.NewClient(srv.Options())
	defer probe.Close()
	key := st.opts.KeyPrefix + sess.ID
	if probe.Exists(ctx, key).Val() != 1 {
		t.Fatal("setup: the key did not survive the restart (AOF)")
	}
	if _, err := st.Get(ctx, sess.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get: %v", err)
	}
	if probe.Exists(ctx, key).Val() != 0 || st.PendingDeletes() != 0 {
		t.Fatalf("Get did not write the pending deletion (pending %d)", st.PendingDeletes())
	}
}

// TestRenew: a new id with the same data; the old id is gone, in Redis too.
func TestRenew(t *testing.T) {
	t.Parallel()
	st, srv, rdb, _ := newDurableStore(t, nil)
	ctx := context.Background()
	sess, _ := st.New()
	sess.Values["csrf"] = "abc"
	if err := st.Save(ctx, sess); err != nil {
		t.Fatal(err)
	}
	old := sess.ID
	if err := st.Renew(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if sess.ID == old || !validID(sess.ID) {
		t.Fatalf("id not renewed: %q", sess.ID)
	}
	got, err := st.Get(ctx, sess.ID)
	if err != nil || got.Values["csrf"] != "abc" || got.Backend != "redis" {
		t.Fatalf("new id: %+v %v", got, err)
	}
	if _, err := st.Get(ctx, old); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old id after renew: %v", err)
	}
	if rdb.Exists(ctx, st.opts.KeyPrefix+old).Val() != 0 {
		t.Fatal("old key still in Redis")
	}

	// Redis down: the new id lives in memory, the old one is refused and
	// deleted when Redis returns; the error says so.
	srv.Kill()
	before := sess.ID
	err = st.Renew(ctx, sess)
	if !errors.Is(err, ErrDeletePending) || sess.ID == before {
		t.Fatalf("renew while down: %v (id changed %v)", err, sess.ID != before)
	}
	if got, err := st.Get(ctx, sess.ID); err != nil || got.Values["csrf"] != "abc" {
		t.Fatalf("renewed while down: %+v %v", got, err)
	}
	srv.Restart()
	probe := redis.NewClient(srv.Options())
	defer probe.Close()
	if _, err := st.Get(ctx, before); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old id after Redis returned: %v", err)
	}
	waitUntil(t, "the old id deleted in Redis", func() bool { return probe.Exists(ctx, st.opts.KeyPrefix+before).Val() == 0 })
	if err := st.Renew(ctx, nil); err == nil {
		t.Fatal("Renew(nil) accepted")
	}
}

// TestMiddlewareRenewAtLogin: a session id planted before login (fixation)
// is not the one used after it.
func TestMiddlewareRenewAtLogin(t *testing.T) {
	t.Parallel()
	st, _, _, _ := newDurableStore(t, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /visit", func(w http.ResponseWriter, r *http.Request) {
		_ = Set(r.Context(), "lang", "fr")
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		_ = Set(r.Context(), "user", "marie")
		if err := Renew(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, Get(r.Context(), "user")+"/"+Get(r.Context(), "lang"))
	})
	ts := httptest.NewServer(st.Middleware(CookieOptions{}, mux))
	defer ts.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	u, _ := url.Parse(ts.URL)
	do := func(method, path string) string {
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	cookie := func() string {
		for _, ck := range jar.Cookies(u) {
			if ck.Name == "zyeute_session" {
				return ck.Value
			}
		}
		return ""
	}
	do("POST", "/visit")
	before := cookie()
	do("POST", "/login")
	after := cookie()
	if before == "" || after == "" || before == after {
		t.Fatalf("cookie before login %q, after %q: want two different ids", before, after)
	}
	if got := do("GET", "/me"); got != "marie/fr" {
		t.Fatalf("/me after login = %q (values kept?)", got)
	}
	if _, err := st.Get(context.Background(), before); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pre-login id still valid: %v", err)
	}
}
