package interop

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// A Go worker with Metrics records what a Node worker with `metrics`
// records for the same jobs: Node's queue.getMetrics reads the same
// figures from both queues. Both queues start from the same earlier
// series (the last data point two minutes ago for completed, ten for
// failed), so the finishes push a data point plus zeros for the skipped
// minutes, capped and trimmed to maxDataPoints. The figures depend on the
// minute the jobs finish in: a run that crosses a minute boundary is
// repeated (at most three runs).
func TestInteropMetricsRecording_SameAsNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for run := 1; ; run++ {
		if metricsRun(t, e) || run == 3 {
			return
		}
		t.Logf("run %d crossed a minute boundary; running again", run)
	}
}

// metricsRun runs the comparison once; false when it crossed a minute
// boundary (nothing checked).
func metricsRun(t *testing.T, e *env) bool {
	goName, refName := e.queueName("mg"), e.queueName("mref")
	specs := []nodeJobSpec{
		{Name: "a", Data: map[string]any{"return": 1}}, {Name: "a", Data: map[string]any{"return": 2}},
		{Name: "f", Data: map[string]any{"fail": "x"}, Opts: map[string]any{"attempts": 1}},
		{Name: "a", Data: map[string]any{"return": 3}},
		{Name: "f", Data: map[string]any{"fail": "y"}, Opts: map[string]any{"attempts": 1}},
	}
	start := time.Now().UnixMilli()
	minute := start / 60_000 * 60_000
	for _, name := range []string{goName, refName} {
		e.nodeAdd(name, specs)
		k := e.key(name, "metrics:")
		p := e.c.TxPipeline()
		p.HSet(e.ctx, k+"completed", "count", 5, "prevTS", minute-90_000, "prevCount", 2)
		p.RPush(e.ctx, k+"completed:data", 4, 1)
		p.HSet(e.ctx, k+"failed", "count", 1, "prevTS", minute-600_000, "prevCount", 0)
		p.RPush(e.ctx, k+"failed:data", 7, 8)
		if _, err := p.Exec(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	const maxPoints = 3
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.nodeProcess(refName, len(specs), map[string]any{"metrics": map[string]any{"maxDataPoints": maxPoints}})
	}()
	w, r := e.goWorker(goName, &queue.WorkerOptions{Concurrency: 3,
		Metrics: &queue.MetricsOptions{MaxDataPoints: maxPoints}}, nil)
	r.waitFinals(t, len(specs), 60*time.Second)
	closeWorker(t, w)
	<-done
	end := time.Now().UnixMilli()
	if end/60_000 != start/60_000 {
		return false
	}

	calls := []map[string]any{
		{"op": "getMetrics", "args": []any{"completed", 0, -1}},
		{"op": "getMetrics", "args": []any{"failed", 0, -1}},
	}
	type metrics struct {
		Meta struct {
			Count     int64 `json:"count"`
			PrevTS    int64 `json:"prevTS"`
			PrevCount int64 `json:"prevCount"`
		} `json:"meta"`
		Data  []int64 `json:"data"`
		Count int64   `json:"count"`
	}
	read := func(name string) []metrics {
		var out []metrics
		for _, raw := range e.nodeGetters(name, calls) {
			var m metrics
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("getMetrics %s: %v", raw, err)
			}
			if m.Meta.PrevTS < start || m.Meta.PrevTS > end {
				t.Fatalf("queue %s: prevTS not set by this run's finishes: %s", name, raw)
			}
			m.Meta.PrevTS = 0 // the time of each worker's own first finish
			out = append(out, m)
		}
		return out
	}
	got, want := read(goName), read(refName)
	for i, c := range calls {
		g, _ := json.Marshal(got[i])
		n, _ := json.Marshal(want[i])
		if string(g) != string(n) {
			t.Errorf("getMetrics%v: Go worker's queue %s, Node worker's %s", c["args"], g, n)
		}
	}
	// The figures themselves (so that both being wrong alike fails too):
	// completed, two minutes on: the 3 jobs counted since, one zero, then
	// the old points, trimmed to 3; failed, ten minutes on: capped at 3
	// points, the count first.
	if m := got[0]; m.Meta.Count != 8 || m.Meta.PrevCount != 5 || fmt.Sprint(m.Data) != "[0 3 4]" || m.Count != 3 {
		t.Errorf("completed series %+v, want count 8, prevCount 5, data [0 3 4]", m)
	}
	if m := got[1]; m.Meta.Count != 3 || m.Meta.PrevCount != 1 || fmt.Sprint(m.Data) != "[0 0 1]" || m.Count != 3 {
		t.Errorf("failed series %+v, want count 3, prevCount 1, data [0 0 1]", m)
	}
	return true
}
