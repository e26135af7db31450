package redisconn_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/redisconn"
)

var writeScript = redis.NewScript(`redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])`)

// TestSentinelMissedSwitchReadOnly: the client holds pooled connections to
// the master, then the roles are swapped behind its back (the old master
// becomes a replica with REPLICAOF, the Sentinel is re-pointed with
// SENTINEL REMOVE/MONITOR, which publishes no +switch-master). Every kind
// of write the service makes (plain commands, Lua scripts, pipelines,
// MULTI/EXEC) must reach the new master instead of failing with READONLY
// on a stale connection.
func TestSentinelMissedSwitchReadOnly(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t, nil)
	b := setup(t, map[string]string{
		"REDIS_SENTINEL_ADDRS":  s.Addr(),
		"REDIS_SENTINEL_MASTER": s.MasterName,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := b.conn.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitState(t, b.conn, redisconn.Connected, 10*time.Second)
	c := b.conn.Client()
	key := redistest.KeyPrefix(t)

	// Fill the pool: as many connections to the initial master as it holds.
	rc, ok := c.(*redis.Client)
	if !ok {
		t.Fatalf("sentinel client is %T", c)
	}
	workers := rc.Options().PoolSize
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_ = c.Do(ctx, "BLPOP", key+":none", 0.2).Err()
		}(i)
	}
	wg.Wait()
	if n := int(c.PoolStats().TotalConns); n < workers {
		t.Fatalf("pool holds %d connections, want ≥ %d", n, workers)
	}

	// Swap the roles without any +switch-master message.
	sc := s.Client(t)
	if err := sc.Remove(ctx, s.MasterName).Err(); err != nil {
		t.Fatalf("SENTINEL REMOVE: %v", err)
	}
	if err := s.Replica.Client(t).Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Master.Client(t).Do(ctx, "REPLICAOF", "127.0.0.1", strconv.Itoa(s.Replica.Port())).Err(); err != nil {
		t.Fatal(err)
	}
	if err := sc.Monitor(ctx, s.MasterName, "127.0.0.1", strconv.Itoa(s.Replica.Port()), "1").Err(); err != nil {
		t.Fatalf("SENTINEL MONITOR: %v", err)
	}
	if addr, err := s.MasterAddr(ctx); err != nil || addr != s.Replica.Addr() {
		t.Fatalf("sentinel names %s (%v), want %s", addr, err, s.Replica.Addr())
	}
	if err := s.Master.Client(t).Set(ctx, key+":direct", "x", 0).Err(); !redis.IsReadOnlyError(err) {
		t.Fatalf("old master not read-only: %v", err)
	}

	// Every write kind, from one goroutine: each command meets stale
	// connections first (more of them than go-redis retries).
	var failures atomic.Int64
	var firstErr atomic.Value
	fail := func(what string, err error) {
		if err != nil {
			failures.Add(1)
			firstErr.CompareAndSwap(nil, what+": "+err.Error())
		}
	}
	for i := 0; i < 4; i++ {
		func(i int) {
			k := key + ":" + strconv.Itoa(i)
			for j := 0; j < 5; j++ {
				fail("SET", c.Set(ctx, k, j, 0).Err())
				fail("script", writeScript.Run(ctx, c, []string{k + ":s", k + ":n"}, j).Err())
				_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
					p.Set(ctx, k+":p", j, 0)
					p.Incr(ctx, k+":pn")
					return nil
				})
				fail("pipeline", err)
				_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Set(ctx, k+":t", j, 0)
					p.Incr(ctx, k+":tn")
					return nil
				})
				fail("multi", err)
			}
		}(i)
	}
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d writes failed after the missed switch; first: %v", n, firstErr.Load())
	}
	if logs := b.logs.String(); !strings.Contains(logs, "READONLY from a pooled connection") {
		t.Fatalf("no READONLY reconnect log line:\n%s", logs)
	}
	direct := s.Replica.Client(t)
	for i := 0; i < 4; i++ {
		if v, err := direct.Get(ctx, key+":"+strconv.Itoa(i)+":tn").Int(); err != nil || v != 5 {
			t.Fatalf("new master holds %d (%v) for writer %d, want 5", v, err, i)
		}
	}
}
