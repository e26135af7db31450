package interop

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

// TestInteropCluster: Go and Node BullMQ 6.7.0 share a hash-tagged queue on
// a 3-master Redis Cluster (Node through an ioredis Cluster): Node adds and
// a Go worker completes, then Go adds and a Node worker completes, with the
// results readable on both sides.
func TestInteropCluster(t *testing.T) {
	t.Parallel()
	nodeBinary(t)
	c := redistest.StartCluster(t, &redistest.ClusterOptions{NoReplicas: true})
	rdb := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var nodes []map[string]any
	for _, s := range c.Nodes {
		nodes = append(nodes, map[string]any{"host": "127.0.0.1", "port": s.Port()})
	}
	prefix := "{" + redistest.KeyPrefix(t) + "}"
	const name = "shared"
	const n = 20
	args := func(extra map[string]any) map[string]any {
		a := map[string]any{"cluster": nodes, "prefix": prefix, "queue": name}
		for k, v := range extra {
			a[k] = v
		}
		return a
	}

	// Node adds, Go completes.
	var jobs []map[string]any
	for i := 0; i < n; i++ {
		jobs = append(jobs, map[string]any{"name": "from-node", "data": map[string]any{"return": i}})
	}
	p := startPeer(ctx, t, "add", args(map[string]any{"jobs": jobs}))
	p.waitType("done", 60*time.Second)
	var mu sync.Mutex
	got := map[int]bool{}
	w, err := queue.NewWorker(rdb, name, func(ctx context.Context, j *queue.Job) (any, error) {
		var d struct{ Return int }
		if err := json.Unmarshal(j.Data, &d); err != nil {
			return nil, err
		}
		mu.Lock()
		got[d.Return] = true
		mu.Unlock()
		return d.Return, nil
	}, &queue.WorkerOptions{Prefix: prefix, Concurrency: 4, DrainDelay: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		done := len(got)
		mu.Unlock()
		if done == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Go worker completed %d of %d Node jobs", done, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	if err := w.Close(cctx); err != nil {
		t.Fatal(err)
	}
	ccancel()
	q := w.Queue()
	waitCounts := func(completed int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			cnt, err := q.Counts(ctx)
			if err == nil && cnt.Completed == completed && cnt.Waiting == 0 && cnt.Active == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("counts %+v (%v), want %d completed", cnt, err, completed)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitCounts(n)

	// Go adds, Node completes.
	for i := 0; i < n; i++ {
		if _, err := q.Add(ctx, "from-go", map[string]any{"return": 100 + i}, nil); err != nil {
			t.Fatalf("Go Add on the cluster: %v", err)
		}
	}
	nw := startPeer(ctx, t, "work", args(map[string]any{"concurrency": 4, "exitAfter": n, "quiet": false}))
	completed := nw.collect(60*time.Second, "completed")
	if len(completed) != n {
		t.Fatalf("Node worker completed %d of %d Go jobs", len(completed), n)
	}
	for _, m := range completed {
		v, err := strconv.Atoi(string(m.Result))
		if err != nil || v < 100 || v >= 100+n {
			t.Fatalf("Node result %s for job %s", m.Result, m.ID)
		}
		j, err := q.GetJob(ctx, m.ID)
		if err != nil || string(j.ReturnValue) != string(m.Result) {
			t.Fatalf("Go reads job %s: %v, returnvalue %s, want %s", m.ID, err, j.ReturnValue, m.Result)
		}
	}
	waitCounts(2 * n)
}
