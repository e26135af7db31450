package redisconn_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/health"
	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/internal/testlog"
	"github.com/zyeute/zyeute-redis/redisconn"
)

// logBuffer is the shared goroutine-safe log sink.
type logBuffer = testlog.Buffer

type bundle struct {
	conn *redisconn.Conn
	logs *logBuffer
}

const (
	testProbeInterval = 100 * time.Millisecond
	testBackoffMax    = 400 * time.Millisecond
)

// setup loads env through config.Load, builds a Conn with short test
// intervals, and closes it at cleanup.
func setup(t *testing.T, env map[string]string) *bundle {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := &logBuffer{}
	c, err := redisconn.New(cfg.Redis.Conn(), &redisconn.Options{
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ProbeInterval: testProbeInterval,
		ProbeTimeout:  10 * time.Second,
		DialTimeout:   5 * time.Second,
		BackoffMax:    testBackoffMax,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &bundle{conn: c, logs: logs}
}

// waitState polls the cached state until want or the deadline.
func waitState(t *testing.T, c *redisconn.Conn, want redisconn.State, within time.Duration) redisconn.Status {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if st := c.Status(); st.State == want {
			return st
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := c.Status()
	t.Fatalf("state %s (%s) after %s, want %s", st.State, st.Message, within, want)
	return st
}

func healthDoc(t *testing.T, c *redisconn.Conn) health.Report {
	t.Helper()
	h, err := health.New(&health.Options{Redis: c})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/health", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("health status %d", rec.Code)
	}
	var rep health.Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("health body %q: %v", rec.Body.String(), err)
	}
	return rep
}

func assertNoSecret(t *testing.T, secret string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, secret) {
			t.Errorf("secret leaked: %q", s)
		}
	}
}

func TestNotConfigured(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	if b.conn.Configured() || b.conn.Client() != nil {
		t.Fatal("configured without Redis variables")
	}
	if err := b.conn.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.conn.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := b.conn.Check(context.Background())
	if st.State != redisconn.NotConfigured || st.Message != "Redis not configured (REDIS_URL or REDIS_HOST not set)" {
		t.Errorf("status = %+v", st)
	}
	if got := strings.Count(b.logs.String(), "[Redis] Not configured (REDIS_URL or REDIS_HOST not set) - Running in degraded mode"); got != 1 {
		t.Errorf("degraded-mode line logged %d times:\n%s", got, b.logs)
	}
	rep := healthDoc(t, b.conn)
	if rep.Redis.Status != "not_configured" || rep.Status != "degraded" || rep.Redis.Latency != nil {
		t.Errorf("health = %+v", rep)
	}
	if err := b.conn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.conn.Close(); err != nil {
		t.Fatal(err)
	}
}

var retryRE = regexp.MustCompile(`\[Redis\] Retry attempt (\d+), waiting ([0-9.]+m?s)`)

func TestReconnectAfterKill(t *testing.T) {
	t.Parallel()
	const pw = "kill-test-Pa55word"
	s := redistest.Start(t, &redistest.Options{Password: pw})
	b := setup(t, map[string]string{"REDIS_URL": "redis://:" + pw + "@" + s.Addr()})

	var mu sync.Mutex
	var seen []redisconn.State
	cancel := b.conn.Subscribe(func(st redisconn.Status) {
		mu.Lock()
		seen = append(seen, st.State)
		mu.Unlock()
	})
	defer cancel()

	ctx := context.Background()
	if err := b.conn.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.conn.Start(ctx); err != nil {
		t.Fatal(err)
	}
	client := b.conn.Client()
	st := waitState(t, b.conn, redisconn.Connected, 5*time.Second)
	if st.Latency <= 0 || st.Version == "" || st.Message != redisconn.MsgHealthy {
		t.Errorf("connected status = %+v", st)
	}
	if err := client.Set(ctx, redistest.KeyPrefix(t)+":k", "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET through the shared client: %v", err)
	}
	rep := healthDoc(t, b.conn)
	if rep.Status != "healthy" || rep.Redis.Status != "connected" || rep.Redis.Latency == nil || rep.Redis.Message != "Redis connection healthy" {
		t.Errorf("health while up = %+v", rep)
	}

	s.Kill()
	// Two probe intervals plus one probe timeout.
	st = waitState(t, b.conn, redisconn.Disconnected, 2*testProbeInterval+10*time.Second)
	if !strings.Contains(st.Message, "ECONNREFUSED") && !strings.Contains(st.Message, "ECONNRESET") {
		t.Errorf("message = %q", st.Message)
	}
	rep = healthDoc(t, b.conn)
	if rep.Status != "degraded" || rep.Redis.Status != "disconnected" || rep.Redis.Latency != nil || rep.Redis.Message == "" {
		t.Errorf("health while down = %+v", rep)
	}
	// Let a few retries happen, then bring the server back on the same port.
	deadline := time.Now().Add(10 * time.Second)
	for len(retryRE.FindAllString(b.logs.String(), -1)) < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	s.Restart()
	waitState(t, b.conn, redisconn.Connected, 10*time.Second)
	if b.conn.Client() != client {
		t.Error("client was replaced")
	}
	if err := client.Get(ctx, "missing-"+redistest.KeyPrefix(t)).Err(); err != nil && err.Error() != "redis: nil" {
		t.Errorf("GET after restart through the same client: %v", err)
	}

	logs := b.logs.String()
	for _, want := range []string{
		"[Redis] Initializing connection to " + s.Addr(),
		"[Redis] ✅ Connection established",
		"[Redis] ❌ Connection error: ECONN",
		"[Redis] Retry attempt 1, waiting ",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if n := strings.Count(logs, "[Redis] ✅ Connection established"); n != 2 {
		t.Errorf("established logged %d times, want 2 (once per transition)", n)
	}
	// Waits grow until the cap (jitter is at most 20%).
	var prev time.Duration
	matches := retryRE.FindAllStringSubmatch(logs, -1)
	if len(matches) < 3 {
		t.Fatalf("only %d retry lines:\n%s", len(matches), logs)
	}
	for i, m := range matches {
		n, _ := strconv.Atoi(m[1])
		d, err := time.ParseDuration(m[2])
		if err != nil || n != i+1 {
			t.Fatalf("retry line %q", m[0])
		}
		if d < 40*time.Millisecond || d > testBackoffMax {
			t.Errorf("wait %s out of [40ms, %s]", d, testBackoffMax)
		}
		if i > 0 && d <= prev && prev < testBackoffMax*8/10 {
			t.Errorf("wait %s after %s does not grow", d, prev)
		}
		prev = d
	}
	mu.Lock()
	got := append([]redisconn.State(nil), seen...)
	mu.Unlock()
	want := []redisconn.State{redisconn.Connected, redisconn.Disconnected, redisconn.Connected}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("subscriber saw %v, want %v", got, want)
	}
	assertNoSecret(t, pw, logs, st.Message, b.conn.Target())
}

func TestTLS(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, &redistest.Options{TLS: true})
	tests := []struct {
		name   string
		env    map[string]string
		want   redisconn.State
		inMsg  string
		wantCd string
	}{
		{"trusted CA", map[string]string{"REDIS_URL": s.URL(), "REDIS_TLS_CA_FILE": s.CAFile}, redisconn.Connected, "healthy", ""},
		{"host and REDIS_TLS", map[string]string{"REDIS_HOST": "127.0.0.1", "REDIS_PORT": strconv.Itoa(s.Port()), "REDIS_TLS": "true", "REDIS_TLS_CA_FILE": s.CAFile}, redisconn.Connected, "healthy", ""},
		{"other CA", map[string]string{"REDIS_URL": s.URL(), "REDIS_TLS_CA_FILE": s.OtherCAFile}, redisconn.Disconnected, "certificate not trusted", "TLS"},
		{"system roots", map[string]string{"REDIS_URL": s.URL()}, redisconn.Disconnected, "certificate not trusted", "TLS"},
		{"plain client to TLS server", map[string]string{"REDIS_URL": "redis://" + s.Addr()}, redisconn.Disconnected, "rediss://", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.env)
			st := b.conn.Check(context.Background())
			if st.State != tt.want || !strings.Contains(st.Message, tt.inMsg) {
				t.Errorf("status = %+v, want %s containing %q", st, tt.want, tt.inMsg)
			}
			if tt.wantCd != "" && !strings.Contains(st.Message, "("+tt.wantCd+")") {
				t.Errorf("message %q lacks code %s", st.Message, tt.wantCd)
			}
		})
	}

	t.Run("TLS client to plain server", func(t *testing.T) {
		t.Parallel()
		plain := redistest.Start(t, nil)
		b := setup(t, map[string]string{"REDIS_URL": "rediss://" + plain.Addr(), "REDIS_TLS_CA_FILE": s.CAFile})
		st := b.conn.Check(context.Background())
		if st.State != redisconn.Disconnected || !strings.Contains(st.Message, "not speak TLS") {
			t.Errorf("status = %+v", st)
		}
	})
}

func TestAuth(t *testing.T) {
	t.Parallel()
	const pw = "auth-Secret-9f8e7d"
	s := redistest.Start(t, &redistest.Options{Password: pw, ACL: []string{"app on >app-Pass-123456 ~* &* +@all"}})
	tests := []struct {
		name, code, msg string
		env             map[string]string
		secret          string
	}{
		{"no password", "NOAUTH", "authentication required: set REDIS_PASSWORD", map[string]string{"REDIS_URL": s.URL()}, pw},
		{"wrong password", "WRONGPASS", "authentication failed: wrong username or password",
			map[string]string{"REDIS_URL": "redis://:wrong-" + pw + "@" + s.Addr()}, "wrong-" + pw},
		{"wrong user password", "WRONGPASS", "authentication failed", map[string]string{
			"REDIS_HOST": "127.0.0.1", "REDIS_PORT": strconv.Itoa(s.Port()), "REDIS_USERNAME": "app", "REDIS_PASSWORD": "not-app-Pass-xyz"}, "not-app-Pass-xyz"},
		{"right password", "", redisconn.MsgHealthy, map[string]string{"REDIS_URL": "redis://:" + pw + "@" + s.Addr()}, pw},
		{"acl user", "", redisconn.MsgHealthy, map[string]string{"REDIS_URL": "redis://app:app-Pass-123456@" + s.Addr()}, "app-Pass-123456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.env)
			if err := b.conn.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			want := redisconn.Connected
			if tt.code != "" {
				want = redisconn.Disconnected
			}
			deadline := time.Now().Add(5 * time.Second)
			st := b.conn.Status()
			for time.Now().Before(deadline) && (st.State != want || st.Message == redisconn.MsgConnecting) {
				time.Sleep(10 * time.Millisecond)
				st = b.conn.Status()
			}
			if st.State != want || !strings.Contains(st.Message, tt.msg) {
				t.Fatalf("status = %+v, want %s with %q", st, want, tt.msg)
			}
			rep := healthDoc(t, b.conn)
			if rep.Redis.Message != st.Message {
				t.Errorf("health message %q", rep.Redis.Message)
			}
			logs := b.logs.String()
			if tt.code != "" {
				if !strings.Contains(logs, "[Redis] ❌ Connection error: "+tt.code) || !strings.Contains(logs, tt.msg) {
					t.Errorf("logs lack the %s error:\n%s", tt.code, logs)
				}
				// Any command through the shared client fails with the same cause.
				err := b.conn.Client().Ping(context.Background()).Err()
				if err == nil || redisconn.Code(err) != tt.code {
					t.Errorf("PING error %v, code %q", err, redisconn.Code(err))
				} else {
					assertNoSecret(t, tt.secret, err.Error(), redisconn.Explain(err))
				}
			}
			b2, _ := json.Marshal(rep)
			assertNoSecret(t, tt.secret, logs, st.Message, string(b2), b.conn.Target())
			assertNoSecret(t, pw, logs)
		})
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	const port = 1 // nothing listens on port 1 (a released free port could be reused by a parallel test)
	b := setup(t, map[string]string{"REDIS_HOST": "127.0.0.1", "REDIS_PORT": strconv.Itoa(port), "REDIS_PASSWORD": "unreach-Secret-1"})
	st := b.conn.Check(context.Background())
	if st.State != redisconn.Disconnected || !strings.Contains(st.Message, "(ECONNREFUSED)") {
		t.Errorf("status = %+v", st)
	}
	b2 := setup(t, map[string]string{"REDIS_HOST": "no-such-host.invalid"})
	st = b2.conn.Check(context.Background())
	if st.State != redisconn.Disconnected || !strings.Contains(st.Message, "(ENOTFOUND)") {
		t.Errorf("dns status = %+v", st)
	}
	assertNoSecret(t, "unreach-Secret-1", b.logs.String())
}

func TestOptionsValidated(t *testing.T) {
	t.Parallel()
	if _, err := redisconn.New(redisconn.Config{}, &redisconn.Options{ProbeInterval: -1}); err == nil {
		t.Error("negative interval accepted")
	}
	if _, err := redisconn.New(redisconn.Config{}, &redisconn.Options{BackoffMin: time.Second, BackoffMax: time.Millisecond}); err == nil {
		t.Error("max < min accepted")
	}
}

func TestStartAfterClose(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, nil)
	b := setup(t, map[string]string{"REDIS_URL": s.URL()})
	if err := b.conn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.conn.Start(context.Background()); err != redisconn.ErrClosed {
		t.Errorf("Start after Close = %v", err)
	}
}

// TestStartContextBoundsStartOnly: as for queue.Worker, Start's ctx does
// not stop the probe; only Close does. Once ctx is cancelled the probe
// still notices Redis going away.
func TestStartContextBoundsStartOnly(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, nil)
	b := setup(t, map[string]string{"REDIS_URL": s.URL()})
	ctx, cancel := context.WithCancel(context.Background())
	if err := b.conn.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitState(t, b.conn, redisconn.Connected, 10*time.Second)
	cancel()
	s.Kill()
	waitState(t, b.conn, redisconn.Disconnected, 20*time.Second)
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	lo0, max := 50*time.Millisecond, 20*time.Second
	for attempt := 1; attempt <= 40; attempt++ {
		base := lo0 << min(attempt-1, 20)
		if base > max {
			base = max
		}
		for range 50 {
			d := redisconn.Backoff(attempt, lo0, max)
			lo, hi := base, base*12/10
			if base >= max {
				lo, hi = max*8/10, max
			}
			if d < lo || d > hi {
				t.Fatalf("attempt %d: %s not in [%s, %s]", attempt, d, lo, hi)
			}
		}
	}
}
