package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// nodeGetters runs Queue getters in Node and returns each call's result.
func (e *env) nodeGetters(name string, calls []map[string]any) []json.RawMessage {
	e.t.Helper()
	p := startPeer(e.ctx, e.t, "getters", e.args(name, map[string]any{"calls": calls}))
	var out []json.RawMessage
	for _, m := range p.collect(60*time.Second, "op") {
		var v struct {
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(m.Raw, &v); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, v.Result)
	}
	if len(out) != len(calls) {
		e.t.Fatalf("node getters: %d results for %d calls", len(out), len(calls))
	}
	return out
}

func states(ss ...string) []queue.JobState {
	out := make([]queue.JobState, len(ss))
	for i, s := range ss {
		out[i] = queue.JobState(s)
	}
	return out
}

// Jobs in every state (and an id without a hash in the wait list): Go's
// GetJobs, GetJobCounts and GetJobLogs answer exactly what Node's getJobs,
// getJobCounts and getJobLogs answer, page by page and in both orders.
func TestInteropGetters_SameAsNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("get")
	var specs []nodeJobSpec
	for i := range 4 {
		specs = append(specs, nodeJobSpec{Name: "c", Data: map[string]any{"return": i}})
	}
	for range 2 {
		specs = append(specs, nodeJobSpec{Name: "f", Data: map[string]any{"fail": "x"}, Opts: map[string]any{"attempts": 1}})
	}
	e.nodeAdd(name, specs)
	e.nodeProcess(name, 6, nil)
	e.nodeAdd(name, []nodeJobSpec{
		{Name: "w", Data: map[string]any{}}, {Name: "w", Data: map[string]any{}}, {Name: "w", Data: map[string]any{}},
		{Name: "d", Data: map[string]any{}, Opts: map[string]any{"delay": 3600000}},
		{Name: "d", Data: map[string]any{}, Opts: map[string]any{"delay": 7200000}},
		{Name: "p", Data: map[string]any{}, Opts: map[string]any{"priority": 5}},
		{Name: "p", Data: map[string]any{}, Opts: map[string]any{"priority": 2}},
	})
	if err := e.c.LPush(e.ctx, e.key(name, "wait"), "ghost").Err(); err != nil {
		t.Fatal(err)
	}
	e.nodeAdd(name, []nodeJobSpec{{Name: "w2", Data: map[string]any{}}})
	q := e.goQueue(name)
	j, err := q.GetJob(e.ctx, "7")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := j.Log(e.ctx, fmt.Sprintf("line %d", i)); err != nil {
			t.Fatal(err)
		}
	}

	type call struct {
		op   string
		args []any
		goFn func() (any, error)
	}
	ids := func(js []*queue.Job, err error) (any, error) {
		out := []string{}
		for _, j := range js {
			out = append(out, j.ID)
		}
		return out, err
	}
	counts := func(m map[queue.JobState]int64, err error) (any, error) { return m, err }
	logs := func(l queue.JobLogs, err error) (any, error) {
		return map[string]any{"logs": l.Logs, "count": l.Count}, err
	}
	all := []string{"active", "completed", "delayed", "failed", "prioritized", "waiting", "waiting-children"}
	var calls []call
	for _, page := range [][3]int64{{0, -1}, {0, 1}, {1, 2}, {0, 0}, {2, 5}, {10, 20}} {
		for _, asc := range []bool{false, true} {
			for _, st := range [][]string{all, {"waiting"}, {"completed", "failed"}, {"delayed", "prioritized", "waiting"}} {
				calls = append(calls, call{"getJobs", []any{st, page[0], page[1], asc}, func() (any, error) {
					return ids(q.GetJobs(e.ctx, states(st...), page[0], page[1], asc))
				}})
			}
		}
	}
	calls = append(calls,
		call{"getJobCounts", nil, func() (any, error) { return counts(q.GetJobCounts(e.ctx)) }},
		call{"getJobCounts", []any{"waiting", "completed", "delayed", "waiting"}, func() (any, error) {
			return counts(q.GetJobCounts(e.ctx, states("waiting", "completed", "delayed", "waiting")...))
		}},
	)
	for _, lp := range [][2]int64{{0, -1}, {1, 2}, {0, 0}, {2, 10}} {
		for _, asc := range []bool{true, false} {
			calls = append(calls, call{"getJobLogs", []any{"7", lp[0], lp[1], asc}, func() (any, error) {
				return logs(q.GetJobLogs(e.ctx, "7", lp[0], lp[1], asc))
			}})
		}
	}
	calls = append(calls, call{"getJobLogs", []any{"404", 0, -1, true}, func() (any, error) {
		return logs(q.GetJobLogs(e.ctx, "404", 0, -1, true))
	}})
	nodeCalls := make([]map[string]any, len(calls))
	for i, c := range calls {
		nodeCalls[i] = map[string]any{"op": c.op, "args": c.args}
	}
	node := e.nodeGetters(name, nodeCalls)
	nonEmpty := 0
	for i, c := range calls {
		got, err := c.goFn()
		if err != nil {
			t.Fatalf("Go %s%v: %v", c.op, c.args, err)
		}
		gb, _ := json.Marshal(got)
		if !jsonEqual(gb, node[i]) {
			t.Errorf("%s%v: Go %s, Node %s", c.op, c.args, gb, node[i])
		}
		if string(gb) != "[]" {
			nonEmpty++
		}
	}
	if nonEmpty < len(calls)/2 {
		t.Fatalf("only %d of %d calls returned something: the fixture is wrong", nonEmpty, len(calls))
	}
}

// Go and Node workers on a queue: Go's GetWorkers lists the same
// connections as Node's getWorkers.
func TestInteropGetWorkers_SameAsNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("gw")
	w, err := queue.NewWorker(e.c, name, func(ctx2 context.Context, j *queue.Job) (any, error) { return nil, nil },
		&queue.WorkerOptions{Prefix: e.prefix, Name: "goside"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	startPeer(e.ctx, e.t, "work", e.args(name, map[string]any{"name": "nodeside"}))
	q := e.goQueue(name)
	var got []queue.WorkerInfo
	waitUntil(t, 20*time.Second, "two workers", func() (bool, error) {
		var err error
		got, err = q.GetWorkers(e.ctx)
		return len(got) == 2, err
	})
	node := e.nodeGetters(name, []map[string]any{{"op": "getWorkers"}})
	var nodeWs []struct{ Name, RawName string }
	if err := json.Unmarshal(node[0], &nodeWs); err != nil {
		t.Fatal(err)
	}
	var g, n []string
	for _, x := range got {
		g = append(g, x.Name+"|"+x.RawName)
	}
	for _, x := range nodeWs {
		n = append(n, x.Name+"|"+x.RawName)
	}
	sort.Strings(g)
	sort.Strings(n)
	if fmt.Sprint(g) != fmt.Sprint(n) || len(g) != 2 {
		t.Fatalf("workers: Go %v, Node %v", g, n)
	}
}

// A Node worker recording metrics: Go's GetMetrics reads what Node's
// getMetrics reads.
func TestInteropGetMetrics_SameAsNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("met")
	e.nodeAdd(name, []nodeJobSpec{
		{Name: "a", Data: map[string]any{}}, {Name: "a", Data: map[string]any{}}, {Name: "a", Data: map[string]any{}},
		{Name: "f", Data: map[string]any{"fail": "x"}, Opts: map[string]any{"attempts": 1}},
	})
	e.nodeProcess(name, 4, map[string]any{"metrics": map[string]any{"maxDataPoints": 5}})
	q := e.goQueue(name)
	calls := []map[string]any{
		{"op": "getMetrics", "args": []any{"completed", 0, -1}},
		{"op": "getMetrics", "args": []any{"failed", 0, -1}},
		{"op": "getMetrics", "args": []any{"completed", 1, 3}},
	}
	node := e.nodeGetters(name, calls)
	for i, c := range calls {
		a := c["args"].([]any)
		m, err := q.GetMetrics(e.ctx, a[0].(string), int64(a[1].(int)), int64(a[2].(int)))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(map[string]any{"meta": map[string]any{"count": m.Count, "prevTS": m.PrevTS,
			"prevCount": m.PrevCount}, "data": m.Data, "count": m.Points})
		if !jsonEqual(got, node[i]) {
			t.Errorf("getMetrics%v: Go %s, Node %s", a, got, node[i])
		}
		if i == 0 && m.Count != 3 {
			t.Errorf("completed count %d, want 3 (Node recorded no metrics?)", m.Count)
		}
	}
}

// Go's RemoveRateLimitKey deletes the limiter key Node's rate limit reads:
// Node's getRateLimitTtl goes from the key's TTL to -2 (no key), and the
// return value is Node's (1, then 0).
func TestInteropRemoveRateLimitKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("rl")
	if err := e.c.Set(e.ctx, e.key(name, "limiter"), 5, 30*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	before := e.nodeGetters(name, []map[string]any{{"op": "getRateLimitTtl"}})
	var ttl int64
	if err := json.Unmarshal(before[0], &ttl); err != nil || ttl <= 0 {
		t.Fatalf("Node TTL before: %s", before[0])
	}
	q := e.goQueue(name)
	if n, err := q.RemoveRateLimitKey(e.ctx); err != nil || n != 1 {
		t.Fatalf("RemoveRateLimitKey = %d, %v", n, err)
	}
	after := e.nodeGetters(name, []map[string]any{{"op": "getRateLimitTtl"}, {"op": "removeRateLimitKey"}})
	if string(after[0]) != "-2" || string(after[1]) != "0" {
		t.Fatalf("Node after Go's remove: ttl %s, removeRateLimitKey %s", after[0], after[1])
	}
	if n, err := q.RemoveRateLimitKey(e.ctx); err != nil || n != 0 {
		t.Fatalf("second RemoveRateLimitKey = %d, %v", n, err)
	}
}
