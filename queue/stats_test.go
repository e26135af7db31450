package queue

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestStats: counts, paused, the oldest waiting job's creation time and the
// active jobs whose lock is gone, as Stats reads them in one script; the
// legacy v5 marker at the tail of wait is not a job, and Stats writes
// nothing.
func TestStats(t *testing.T) {
	b := setup(t)
	now := time.Now().Truncate(time.Millisecond)
	q, err := NewQueue(b.client, b.name, &QueueOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	empty, err := q.Stats(b.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(empty, QueueStats{LocklessIDs: []string{}}) {
		t.Fatalf("empty queue: %+v", empty)
	}
	if ok, err := q.Exists(b.ctx); ok || err != nil {
		t.Fatalf("Exists before the first add: %v, %v", ok, err)
	}
	first, err := q.Add(b.ctx, "a", nil, &AddOptions{Timestamp: now.Add(-2 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Add(b.ctx, "b", nil, &AddOptions{Timestamp: now.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Add(b.ctx, "c", nil, &AddOptions{Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Add(b.ctx, "d", nil, &AddOptions{Priority: 4}); err != nil {
		t.Fatal(err)
	}
	if ok, err := q.Exists(b.ctx); !ok || err != nil {
		t.Fatalf("Exists after an add: %v, %v", ok, err)
	}
	// Three active jobs: one held by a live worker, two whose worker died.
	k := q.k
	for _, id := range []string{"held", "dead1", "dead2"} {
		b.client.HSet(b.ctx, k.job(id), "name", "x", "data", "{}", "opts", "{}", "timestamp", now.UnixMilli())
		b.client.LPush(b.ctx, k.active(), id)
	}
	b.client.Set(b.ctx, k.lock("held"), "token", time.Minute)
	b.client.ZAdd(b.ctx, k.failed(), redis.Z{Score: 1, Member: "f"})
	b.client.ZAdd(b.ctx, k.completed(), redis.Z{Score: 1, Member: "c1"}, redis.Z{Score: 2, Member: "c2"})
	b.client.ZAdd(b.ctx, k.waitingChildren(), redis.Z{Score: 1, Member: "p"})
	// A legacy marker behind the next job (BullMQ v5 left it at the tail).
	b.client.RPush(b.ctx, k.wait(), "0:0")
	if err := q.Pause(b.ctx); err != nil {
		t.Fatal(err)
	}

	s, err := q.Stats(b.ctx, &StatsOptions{MaxLocklessIDs: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := QueueStats{
		Counts: Counts{Waiting: 2, Active: 3, Delayed: 1, Prioritized: 1, Completed: 2, Failed: 1, WaitingChildren: 1},
		Paused: true, OldestWaiting: time.UnixMilli(now.Add(-2 * time.Minute).UnixMilli()),
		ActiveChecked: 3, ActiveWithoutLock: 2, LocklessIDs: []string{"dead2"},
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("Stats\n got %+v\nwant %+v (first job %s)", s, want, first.ID)
	}
	// Only the first MaxActiveChecked active jobs are looked at (LPUSH put
	// dead2 at the head).
	s, err = q.Stats(b.ctx, &StatsOptions{MaxActiveChecked: 1})
	if err != nil || s.ActiveChecked != 1 || s.ActiveWithoutLock != 1 || !reflect.DeepEqual(s.LocklessIDs, []string{"dead2"}) {
		t.Fatalf("MaxActiveChecked 1: %+v, %v", s, err)
	}
	if n, _ := b.client.LLen(b.ctx, k.wait()).Result(); n != 3 {
		t.Fatalf("Stats changed the wait list: %d entries, want 3 (2 jobs and the marker)", n)
	}
	if _, err := q.Stats(b.ctx, &StatsOptions{MaxActiveChecked: -1}); err == nil {
		t.Fatal("a negative MaxActiveChecked was accepted")
	}
}

// TestCountWorkers: connections named as BullMQ names a worker's blocking
// connection (with or without ":w:<name>") count; QueueEvents (":qe") and
// other queues' do not; one CLIENT LIST serves every queue.
func TestCountWorkers(t *testing.T) {
	b := setup(t)
	prefix := b.name
	named := func(name string) {
		c := redis.NewClient(&redis.Options{Addr: b.srv.Addr(), ClientName: name})
		t.Cleanup(func() { _ = c.Close() })
		if err := c.Ping(b.ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	enc := func(q string) string { return base64.StdEncoding.EncodeToString([]byte(q)) }
	named(prefix + ":" + enc("video") + ":w:w1")
	named(prefix + ":" + enc("video"))
	named(prefix + ":" + enc("video") + ":qe")
	named(prefix + ":" + enc("analytics") + ":w:w2")
	named(prefix + "X:" + enc("video") + ":w:w3")
	got, err := CountWorkers(b.ctx, b.client, prefix, []string{"video", "analytics", "idle"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"video": 2, "analytics": 1, "idle": 0}; !reflect.DeepEqual(got, want) {
		t.Fatalf("CountWorkers = %v, want %v", got, want)
	}
}

// TestDiscoverQueuesBounded: DiscoverQueues stops after MaxScanKeys keys
// examined and says the list is partial; without a bound it lists all.
func TestDiscoverQueuesBounded(t *testing.T) {
	b := setup(t)
	prefix := b.name
	p := b.client.Pipeline()
	for i := 0; i < 5000; i++ { // keys the SCAN examines without matching
		p.Set(b.ctx, fmt.Sprintf("%s:filler:%d", prefix, i), "x", 0)
	}
	for i := 0; i < 30; i++ {
		p.HSet(b.ctx, fmt.Sprintf("%s:q%02d:meta", prefix, i), "opts.maxLenEvents", 10000)
	}
	if _, err := p.Exec(b.ctx); err != nil {
		t.Fatal(err)
	}
	all, err := DiscoverQueues(b.ctx, b.client, prefix, nil)
	if err != nil || len(all.Names) != 30 || all.Truncated || all.ScannedKeys != 30 {
		t.Fatalf("unbounded: %d names, %+v, %v", len(all.Names), all.Truncated, err)
	}
	part, err := DiscoverQueues(b.ctx, b.client, prefix, &DiscoverOptions{MaxScanKeys: 1000})
	if err != nil || !part.Truncated || len(part.Names) >= 30 {
		t.Fatalf("bounded to one SCAN call: %d names, truncated %v, %v", len(part.Names), part.Truncated, err)
	}
}
