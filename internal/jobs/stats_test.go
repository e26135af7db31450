package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestStatsContentAndCache(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c := b.conn.Client()
	clk := &clock{t: time.Now()}
	d, _ := NewDispatcher(b.reg, b.conn, &DispatcherConfig{Prefix: b.prefix})
	st, err := NewStats(b.conn, b.reg.Names(), &StatsConfig{Prefix: b.prefix, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	data := json.RawMessage(analyticsBatch)
	for range 3 {
		if _, err := d.Enqueue(ctx, Analytics, "", data, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Enqueue(ctx, Analytics, "", data, &EnqueueOptions{Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Enqueue(ctx, Analytics, "", data, &EnqueueOptions{Priority: 3}); err != nil {
		t.Fatal(err)
	}
	// Two jobs in active: one locked by a live worker, one whose worker died.
	// (The state a dead worker leaves, seeded as BullMQ lays it out.)
	base := b.prefix + ":" + VideoEnhancement + ":"
	for _, id := range []string{"alive", "orphan"} {
		c.HSet(ctx, base+id, "name", "x", "data", "{}", "opts", "{}", "timestamp", clk.now().UnixMilli())
		c.LPush(ctx, base+"active", id)
	}
	c.Set(ctx, base+"alive:lock", "token", time.Minute)
	if err := d.Queue(MemoryMining).Pause(ctx); err != nil {
		t.Fatal(err)
	}
	clk.add(90 * time.Second) // the waiting jobs are now 90 s old

	snap, err := st.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Queues) != 5 || snap.Prefix != b.prefix || snap.WorkersError != "" {
		t.Fatalf("snapshot = %+v", snap)
	}
	by := map[string]QueueStats{}
	for _, q := range snap.Queues {
		by[q.Queue] = q
	}
	a := by[Analytics]
	if a.Counts.Waiting != 3 || a.Counts.Delayed != 1 || a.Counts.Prioritized != 1 || a.Paused ||
		a.OldestWaitingAgeSeconds == nil || *a.OldestWaitingAgeSeconds < 89 || *a.OldestWaitingAgeSeconds > 120 ||
		a.Workers == nil || *a.Workers != 0 {
		t.Errorf("analytics = %+v", a)
	}
	if v := by[VideoEnhancement]; v.Counts.Active != 2 || v.ActiveWithoutLock != 1 || v.ActiveChecked != 2 || v.OldestWaitingAgeSeconds != nil {
		t.Errorf("video-enhancement = %+v", v)
	}
	if !by[MemoryMining].Paused {
		t.Errorf("memory-mining not paused: %+v", by[MemoryMining])
	}

	// Within the TTL: the same snapshot, even though Redis changed.
	if _, err := d.Enqueue(ctx, Analytics, "", data, nil); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Second)
	again, err := st.Snapshot(ctx)
	if err != nil || again != snap {
		t.Fatalf("within TTL: a new snapshot (%v)", err)
	}
	clk.add(1500 * time.Millisecond)
	fresh, err := st.Snapshot(ctx)
	if err != nil || fresh == snap {
		t.Fatalf("after TTL: the cached snapshot (%v)", err)
	}
	for _, q := range fresh.Queues {
		if q.Queue == Analytics && q.Counts.Waiting != 4 {
			t.Errorf("fresh analytics waiting = %d", q.Counts.Waiting)
		}
	}

	// Workers are counted by their connection names.
	pool, err := NewPool(c, b.reg, &PoolConfig{Queues: []string{PrivacyAudit, MemoryMining}, Prefix: b.prefix, Concurrency: 1,
		Worker: &queue.WorkerOptions{DrainDelay: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "workers listed", func() bool {
		s, err := st.Refresh(ctx)
		if err != nil {
			return false
		}
		for _, q := range s.Queues {
			if q.Queue == PrivacyAudit {
				return q.Workers != nil && *q.Workers == 1
			}
		}
		return false
	})
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Close(sctx); err != nil {
		t.Fatal(err)
	}
	if err := pool.Close(sctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := pool.Start(ctx); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("Start after Stop: %v", err)
	}
}

func TestStatsUnavailable(t *testing.T) {
	t.Parallel()
	conn := newConn(t, nil)
	st, err := NewStats(conn, Names(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Snapshot(context.Background()); !errors.Is(err, ErrRedisUnavailable) {
		t.Errorf("not configured: %v", err)
	}
	if _, err := st.Refresh(context.Background()); !errors.Is(err, ErrRedisUnavailable) {
		t.Errorf("refresh, not configured: %v", err)
	}
	if _, err := NewPool(nil, nil, nil); !errors.Is(err, ErrRedisNotConfigured) {
		t.Errorf("NewPool(nil): %v", err)
	}
}

func TestStatsScrapeStormOneRefresh(t *testing.T) {
	t.Parallel()
	b := setup(t)
	st, _ := NewStats(b.conn, b.reg.Names(), &StatsConfig{Prefix: b.prefix, TTL: time.Hour})
	c := b.conn.Client()
	ctx := context.Background()
	before, err := c.InfoMap(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	snaps := make([]*StatsSnapshot, 50)
	for i := range snaps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			snaps[i], _ = st.Snapshot(ctx)
		}()
	}
	wg.Wait()
	for _, s := range snaps {
		if s == nil || s != snaps[0] {
			t.Fatal("concurrent callers got different snapshots")
		}
	}
	after, err := c.InfoMap(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	// One refresh: one script call per queue (EVALSHA, plus EVAL on the
	// first NOSCRIPT) and one CLIENT LIST.
	calls := func(m map[string]map[string]string, cmd string) string { return m["Commandstats"]["cmdstat_"+cmd] }
	if got := calls(after, "client|list"); got == calls(before, "client|list") || !startsWith(got, "calls=1,") {
		t.Errorf("client list: %q", got)
	}
	if got := calls(after, "evalsha"); !startsWith(got, "calls=5,") {
		t.Errorf("evalsha: %q", got)
	}
}

func startsWith(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }
