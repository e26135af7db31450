package redisconn_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/redisconn"
)

// TestSentinelFailover configures the Conn from REDIS_SENTINEL_ADDRS and
// REDIS_SENTINEL_MASTER, forces a failover and checks that writes through
// Client() reach the new master, and keep succeeding once the old master
// has been demoted (no READONLY from stale pooled connections).
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t, nil)
	b := setup(t, map[string]string{
		"REDIS_SENTINEL_ADDRS":  s.Addr(),
		"REDIS_SENTINEL_MASTER": s.MasterName,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := b.conn.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitState(t, b.conn, redisconn.Connected, 10*time.Second)
	if got, want := b.conn.Target(), "sentinel master "+s.MasterName+" via "+s.Addr(); got != want {
		t.Fatalf("Target %q, want %q", got, want)
	}

	c := b.conn.Client()
	key := redistest.KeyPrefix(t) + ":k"
	if err := c.Set(ctx, key, "before", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if v, err := c.Get(ctx, key).Result(); err != nil || v != "before" {
		t.Fatalf("GET: %q, %v", v, err)
	}
	// The write went to the initial master.
	if v, err := s.Master.Client(t).Get(ctx, key).Result(); err != nil || v != "before" {
		t.Fatalf("GET on initial master: %q, %v", v, err)
	}

	failoverAt := time.Now()
	newAddr, err := s.Failover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if newAddr != s.Replica.Addr() {
		t.Fatalf("new master %s, want %s", newAddr, s.Replica.Addr())
	}
	direct := s.Replica.Client(t)

	// Within 20s a write through the Conn's client lands on the new master.
	deadline := time.Now().Add(20 * time.Second)
	var lastErr error
	for i := 0; ; i++ {
		val := "after-" + strconv.Itoa(i)
		lastErr = c.Set(ctx, key, val, 0).Err()
		if lastErr == nil {
			if v, err := direct.Get(ctx, key).Result(); err == nil && v == val {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write reached the new master %s within 20s (last SET error: %v)", newAddr, lastErr)
		}
		time.Sleep(20 * time.Millisecond)
	}

	t.Logf("first write on the new master %s after SENTINEL FAILOVER", time.Since(failoverAt).Round(time.Millisecond))

	// Once the sentinel has demoted the old master, a write there fails
	// with READONLY; the client must still write to the new master.
	old := s.Master.Client(t)
	deadline = time.Now().Add(20 * time.Second)
	for {
		if redis.IsReadOnlyError(old.Set(ctx, key+":probe", "x", 0).Err()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("old master not demoted within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("old master demoted %s after SENTINEL FAILOVER", time.Since(failoverAt).Round(time.Millisecond))
	// Use more connections than one so that any stale pooled connection
	// to the old master would be picked.
	for i := 0; i < 50; i++ {
		val := "demoted-" + strconv.Itoa(i)
		if err := c.Set(ctx, key, val, 0).Err(); err != nil {
			t.Fatalf("SET %d after demotion: %v", i, err)
		}
		if v, err := direct.Get(ctx, key).Result(); err != nil || v != val {
			t.Fatalf("new master holds %q (%v), want %q", v, err, val)
		}
	}
	if st := b.conn.Check(ctx); st.State != redisconn.Connected {
		t.Fatalf("state %s (%s) after failover", st.State, st.Message)
	}
}
