package redistest

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestCluster forms a 3+3 cluster, writes keys across slots, moves a slot
// with its keys, kills the master of a slot, waits for its replica's
// promotion (the acknowledged-and-replicated key survives) and restarts the
// old master as a replica.
func TestCluster(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := StartCluster(t, nil)
	t.Logf("3+3 cluster healthy in %s", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	masters, err := c.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(masters) != 3 {
		t.Fatalf("%d masters, want 3", len(masters))
	}
	cl := c.Client(t)
	p := KeyPrefix(t)
	for i := 0; i < 50; i++ {
		if err := cl.Set(ctx, p+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatalf("SET %d: %v", i, err)
		}
	}

	key := "{" + p + "}:k"
	slot, err := c.KeySlot(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	src, err := c.MasterOf(ctx, slot)
	if err != nil {
		t.Fatal(err)
	}
	var dst *Server
	for _, m := range masters {
		if m != src {
			dst = m
			break
		}
	}
	if err := c.MoveSlot(ctx, slot, dst); err != nil {
		t.Fatal(err)
	}
	if m, err := c.MasterOf(ctx, slot); err != nil || m != dst {
		t.Fatalf("after MoveSlot slot %d on %v (%v), want %s", slot, m, err, dst.Addr())
	}
	if v, err := dst.Client(t).Get(ctx, key).Result(); err != nil || v != "v" {
		t.Fatalf("moved key on destination: %q, %v", v, err)
	}
	if v, err := cl.Get(ctx, key).Result(); err != nil || v != "v" {
		t.Fatalf("moved key through the cluster client: %q, %v", v, err)
	}

	// WAIT 1 makes sure the replica has the key before the master dies.
	if err := cl.Set(ctx, key, "v2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := dst.Client(t).Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1: %d, %v", n, err)
	}
	killedAt := time.Now()
	old, err := c.KillMaster(ctx, slot)
	if err != nil {
		t.Fatal(err)
	}
	nm, err := c.WaitPromotion(ctx, slot, old)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("replica %s promoted and cluster healthy %s after SIGKILL", nm.Addr(), time.Since(killedAt).Round(time.Millisecond))
	// A bare go-redis cluster client reloads its slot map only on MOVED/ASK
	// or every 60s: a dead node's connection errors do not trigger it
	// (redisconn's hook does). Reload by hand here.
	var v string
	deadline := time.Now().Add(10 * time.Second)
	for v, err = cl.Get(ctx, key).Result(); err != nil && time.Now().Before(deadline); v, err = cl.Get(ctx, key).Result() {
		cl.ReloadState(ctx)
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || v != "v2" {
		t.Fatalf("key after failover: %q, %v", v, err)
	}
	t.Logf("cluster client reads the key %s after SIGKILL", time.Since(killedAt).Round(time.Millisecond))
	if err := c.RestartAsReplica(ctx, old); err != nil {
		t.Fatal(err)
	}
	if m, err := c.MasterOf(ctx, slot); err != nil || m != nm {
		t.Fatalf("after restart slot %d on %v (%v), want %s", slot, m, err, nm.Addr())
	}
}
