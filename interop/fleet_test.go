package interop

import (
	"fmt"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// Mixed fleet: Node and Go workers on one queue, 5,000 jobs (half added by
// Go, half by Node), nothing fails: every job is processed exactly once,
// by exactly one side.
func TestInteropFleet_ExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("")
	const n = 5000
	q := e.goQueue(name)
	all := map[string]bool{}
	for start := 0; start < n/2; start += 500 {
		var bulk []queue.BulkJob
		for i := start; i < start+500; i++ {
			bulk = append(bulk, queue.BulkJob{Name: "f", Data: map[string]any{"i": i}})
		}
		jobs, err := q.AddBulk(e.ctx, bulk)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			all[j.ID] = true
		}
	}
	var specs []nodeJobSpec
	for i := 0; i < n/2; i++ {
		specs = append(specs, nodeJobSpec{Name: "f", Data: map[string]any{"i": n/2 + i}, Opts: map[string]any{"jobId": fmt.Sprintf("node-%d", i)}})
	}
	p := startPeer(e.ctx, t, "add", e.args(name, map[string]any{"jobs": specs, "bulk": true}))
	for _, m := range p.collect(60*time.Second, "added") {
		all[m.ID] = true
	}
	if len(all) != n {
		t.Fatalf("%d distinct ids added, want %d", len(all), n)
	}
	np := startPeer(e.ctx, t, "work", e.args(name, map[string]any{"concurrency": 4, "quiet": true}))
	w, r := e.goWorker(name, &queue.WorkerOptions{Concurrency: 4}, nil)
	waitUntil(t, 150*time.Second, "all jobs completed", func() (bool, error) {
		c, err := q.Counts(e.ctx)
		return c.Completed == n, err
	})
	closeWorker(t, w)
	nodeIDs := map[string]int{}
	for _, m := range np.terminate(30*time.Second, "started") {
		nodeIDs[m.ID]++
	}
	goIDs := map[string]int{}
	st, _, _ := r.snapshot()
	for _, s := range st {
		goIDs[s.ID]++
	}
	for id, k := range nodeIDs {
		if k != 1 {
			t.Errorf("Node processed %s %d times", id, k)
		}
		if goIDs[id] > 0 {
			t.Errorf("%s processed by both Node and Go", id)
		}
		if !all[id] {
			t.Errorf("Node processed unknown id %s", id)
		}
	}
	for id, k := range goIDs {
		if k != 1 {
			t.Errorf("Go processed %s %d times", id, k)
		}
		if !all[id] {
			t.Errorf("Go processed unknown id %s", id)
		}
	}
	for id := range all {
		if nodeIDs[id]+goIDs[id] != 1 {
			t.Errorf("%s processed %d times in all", id, nodeIDs[id]+goIDs[id])
		}
	}
	c, err := q.Counts(e.ctx)
	if err != nil || c.Completed != n || c.Active+c.Waiting+c.Failed+c.Delayed+c.Prioritized != 0 {
		t.Errorf("final counts %+v (%v)", c, err)
	}
	t.Logf("Node processed %d, Go %d", len(nodeIDs), len(goIDs))
	if len(nodeIDs) == 0 || len(goIDs) == 0 {
		t.Errorf("one side processed nothing (Node %d, Go %d): not a mixed fleet", len(nodeIDs), len(goIDs))
	}
}
