package interop

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// Checklist 10: with meta `concurrency` = 1, a Go add while one job is
// active writes no marker 0, and Go and Node workers together never hold
// more than one job in `active`.
func TestInterop10_GlobalConcurrencyMixedFleet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("gc")
	q := e.goQueue(name)
	if err := q.SetGlobalConcurrency(e.ctx, 1); err != nil {
		t.Fatal(err)
	}

	// Marker rule: with a job active (seeded) and the cap reached, an add
	// writes no marker 0.
	active, marker := e.key(name, "active"), e.key(name, "marker")
	if err := e.c.LPush(e.ctx, active, "seeded").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Add(e.ctx, "probe", nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := e.c.Exists(e.ctx, marker).Val(); n != 0 {
		t.Fatalf("a Go add at global concurrency wrote the marker: %v", e.c.ZRangeWithScores(e.ctx, marker, 0, -1).Val())
	}
	// Clear the seed and the probe job before the fleet test.
	e.c.Del(e.ctx, active, e.key(name, "wait"), e.key(name, "1"))

	// Mixed fleet: both sides ask for concurrency 5; the queue allows 1.
	const n = 12
	var maxActive atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if l := e.c.LLen(e.ctx, active).Val(); l > maxActive.Load() {
				maxActive.Store(l)
			}
		}
	}()
	addSlow := func(k int) {
		jobs := make([]queue.BulkJob, k)
		for i := range jobs {
			jobs[i] = queue.BulkJob{Name: "slow", Data: map[string]int{"sleepMs": 60}}
		}
		if _, err := q.AddBulk(e.ctx, jobs); err != nil {
			t.Fatal(err)
		}
	}
	waitCompleted := func(k int64) {
		waitUntil(t, 60*time.Second, "jobs completed", func() (bool, error) {
			c, err := e.c.ZCard(e.ctx, e.key(name, "completed")).Result()
			return c >= k, err
		})
	}
	waitActive := func() {
		waitUntil(t, 20*time.Second, "a job active", func() (bool, error) {
			l, err := e.c.LLen(e.ctx, active).Result()
			return l >= 1, err
		})
	}
	// Round 1: a Go worker leads (fetch-next keeps the chain), a Node worker
	// asking for 5 more joins while it runs.
	gw, _ := e.goWorker(name, &queue.WorkerOptions{Concurrency: 5, Name: "go-w"}, nil)
	addSlow(n / 2)
	waitActive()
	np := startPeer(e.ctx, t, "work", e.args(name, map[string]any{"concurrency": 5, "quiet": true, "name": "node-w"}))
	waitCompleted(n / 2)
	// Round 2: the Node worker leads, a Go worker asking for 5 joins.
	if err := gw.Close(e.ctx); err != nil {
		t.Fatal(err)
	}
	addSlow(n / 2)
	waitActive()
	e.goWorker(name, &queue.WorkerOptions{Concurrency: 5, Name: "go-w"}, nil)
	waitCompleted(n)
	close(stop)
	wg.Wait()
	np.terminate(20 * time.Second)
	byWorker := map[string]int{}
	for _, id := range e.c.ZRange(e.ctx, e.key(name, "completed"), 0, -1).Val() {
		byWorker[e.c.HGet(e.ctx, e.key(name, id), "pb").Val()]++
	}
	if got := maxActive.Load(); got > 1 {
		t.Fatalf("%d jobs were active at once with global concurrency 1", got)
	}
	if byWorker["go-w"]+byWorker["node-w"] != n || byWorker["go-w"] == 0 || byWorker["node-w"] == 0 {
		t.Fatalf("completed jobs by worker: %v, want %d in all from both sides", byWorker, n)
	}
	t.Logf("processed: %v", byWorker)
}
