package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/redisconn"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bundle is one test's Redis, shared connection and key prefix.
type bundle struct {
	srv    *redistest.Server
	conn   *redisconn.Conn
	prefix string
	reg    *Registry
}

// newConn builds and starts a redisconn.Conn for vars (nil: not configured)
// with a quick probe, closed at cleanup.
func newConn(t *testing.T, vars map[string]string) *redisconn.Conn {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	conn, err := redisconn.New(cfg.Redis.Conn(), &redisconn.Options{ProbeInterval: 100 * time.Millisecond, BackoffMax: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func setup(t *testing.T) *bundle {
	t.Helper()
	srv := redistest.Start(t, nil)
	conn := newConn(t, map[string]string{"REDIS_URL": srv.URL()})
	waitState(t, conn, redisconn.Connected, 10*time.Second)
	reg, err := NewRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{srv: srv, conn: conn, prefix: redistest.KeyPrefix(t), reg: reg}
}

func waitState(t *testing.T, c *redisconn.Conn, want redisconn.State, within time.Duration) {
	t.Helper()
	waitFor(t, within, "redis state "+string(want), func() bool { return c.State() == want })
}

// waitFor polls cond every 20ms until it holds or within has passed.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startPool starts a worker pool for a test; the returned func stops it
// (10 s budget) and reports a failed stop. Use: defer startPool(…)().
func startPool(t *testing.T, ctx context.Context, c redis.UniversalClient, reg *Registry, cfg *PoolConfig) func() {
	t.Helper()
	pool, err := NewPool(c, reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := pool.Close(sctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	}
}
