package clustertest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/redisconn"
)

// logBuffer collects log lines for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// connect builds the service's shared connection from REDIS_CLUSTER_ADDRS
// (as the binary does), starts its probe and waits until connected.
func connect(t *testing.T, c *redistest.Cluster, logs *logBuffer) *redisconn.Conn {
	t.Helper()
	return connectEnv(t, map[string]string{"REDIS_CLUSTER_ADDRS": strings.Join(c.Addrs(), ",")}, logs)
}

// connectEnv is connect for any configuration environment.
func connectEnv(t *testing.T, env map[string]string, logs *logBuffer) *redisconn.Conn {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	var lg *slog.Logger
	if logs != nil {
		lg = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	conn, err := redisconn.New(cfg.Redis.Conn(), &redisconn.Options{
		Logger:        lg,
		ProbeInterval: 200 * time.Millisecond,
		BackoffMax:    500 * time.Millisecond,
		DialTimeout:   time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); _ = conn.Close() })
	if err := conn.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for conn.State() != redisconn.Connected {
		if time.Now().After(deadline) {
			t.Fatalf("not connected to %s: %s", conn.Target(), conn.Status().Message)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return conn
}

// keysByMaster scans every master for keys matching pattern and returns
// them by master address.
func keysByMaster(ctx context.Context, t *testing.T, rdb redis.UniversalClient, pattern string) map[string][]string {
	t.Helper()
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("client is %T, not a cluster client", rdb)
	}
	var mu sync.Mutex
	out := map[string][]string{}
	err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		var found []string
		iter := m.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			found = append(found, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return err
		}
		if len(found) > 0 {
			mu.Lock()
			out[m.Options().Addr] = found
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("SCAN on every master: %v", err)
	}
	return out
}

// tagsOnDistinctMasters returns n hash tags whose slots are served by n
// different masters.
func tagsOnDistinctMasters(ctx context.Context, t *testing.T, c *redistest.Cluster, base string, n int) []string {
	t.Helper()
	seen := map[*redistest.Server]bool{}
	var tags []string
	for i := 0; i < 200 && len(tags) < n; i++ {
		tag := fmt.Sprintf("%s-%d", base, i)
		slot, err := c.KeySlot(ctx, "{"+tag+"}")
		if err != nil {
			t.Fatal(err)
		}
		m, err := c.MasterOf(ctx, slot)
		if err != nil {
			t.Fatal(err)
		}
		if !seen[m] {
			seen[m] = true
			tags = append(tags, tag)
		}
	}
	if len(tags) < n {
		t.Fatalf("found only %d tags on distinct masters", len(tags))
	}
	return tags
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
