package interop

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// schedOp runs one `schedule` peer op list and returns the op results.
func (e *env) schedOps(name string, ops ...map[string]any) []json.RawMessage {
	e.t.Helper()
	p := startPeer(e.ctx, e.t, "schedule", e.args(name, map[string]any{"ops": ops}))
	var out []json.RawMessage
	for _, m := range p.collect(30*time.Second, "op") {
		var r struct {
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(m.Raw, &r); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, r.Result)
	}
	return out
}

type iterInfo struct {
	id     string
	millis int64
	rjk    string
	opts   map[string]any
	repeat map[string]any
}

// iteration reads the scheduler's current iteration (ZSCORE repeat sid).
func (e *env) iteration(name, sid string) iterInfo {
	e.t.Helper()
	sc, err := e.c.ZScore(e.ctx, e.key(name, "repeat"), sid).Result()
	if err != nil {
		e.t.Fatalf("scheduler %s not in repeat: %v", sid, err)
	}
	ms := int64(sc)
	id := "repeat:" + sid + ":" + strconv.FormatInt(ms, 10)
	h := e.c.HGetAll(e.ctx, e.key(name, id)).Val()
	if len(h) == 0 {
		e.t.Fatalf("iteration %s has no hash", id)
	}
	it := iterInfo{id: id, millis: ms, rjk: h["rjk"]}
	if err := json.Unmarshal([]byte(h["opts"]), &it.opts); err != nil {
		e.t.Fatalf("iteration %s opts %q: %v", id, h["opts"], err)
	}
	it.repeat, _ = it.opts["repeat"].(map[string]any)
	return it
}

func (e *env) schedIC(name, sid string) int64 {
	n, _ := e.c.HGet(e.ctx, e.key(name, "repeat:"+sid), "ic").Int64()
	return n
}

// iterMillis is the millis part of an iteration id.
func iterMillis(t testing.TB, id string) int64 {
	t.Helper()
	i := strings.LastIndexByte(id, ':')
	n, err := strconv.ParseInt(id[i+1:], 10, 64)
	if err != nil {
		t.Fatalf("iteration id %q", id)
	}
	return n
}

// Checklist 31: a Node-defined every scheduler keeps running with only Go
// workers; ic grows by one per start; the next iteration is well formed
// and Node's getJobScheduler agrees.
func TestInterop31_SchedulerEveryGoWorkers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("s31")
	e.schedOps(name, map[string]any{"op": "upsert", "id": "s", "repeat": map[string]any{"every": 1000},
		"template": map[string]any{"name": "tick", "data": map[string]any{"return": "ok"}}})
	ic0 := e.schedIC(name, "s")
	w, rec := e.goWorker(name, &queue.WorkerOptions{Concurrency: 2}, nil)
	rec.waitFinals(t, 3, 10*time.Second)
	closeWorker(t, w)
	started, _, finals := rec.snapshot()
	if finals < 3 {
		t.Fatalf("%d finals", finals)
	}
	if ic := e.schedIC(name, "s"); ic != ic0+int64(len(started)) {
		t.Fatalf("ic %d after %d starts (ic after upsert %d)", ic, len(started), ic0)
	}
	var last int64
	for _, s := range started {
		if !strings.HasPrefix(s.ID, "repeat:s:") || s.Name != "tick" {
			t.Fatalf("started %+v", s)
		}
		if m := iterMillis(t, s.ID); m > last {
			last = m
		}
	}
	it := e.iteration(name, "s")
	if it.millis <= last || it.rjk != "s" || it.repeat["every"] != float64(1000) ||
		it.repeat["count"] != float64(len(started)+1) || it.opts["repeatJobKey"] != "s" || it.opts["jobId"] != it.id {
		t.Fatalf("next iteration %+v after %d starts (last %d)", it, len(started), last)
	}
	var lastOpts map[string]any
	_ = json.Unmarshal([]byte(e.c.HGet(e.ctx, e.key(name, "repeat:s:"+strconv.FormatInt(last, 10)), "opts").Val()), &lastOpts)
	if lr, _ := lastOpts["repeat"].(map[string]any); lr == nil || lr["count"].(float64)+1 != it.repeat["count"] {
		t.Fatalf("count of the last started iteration %v, next %v", lastOpts["repeat"], it.repeat["count"])
	}
	res := e.schedOps(name, map[string]any{"op": "get", "id": "s"})
	var sch struct {
		Next           int64 `json:"next"`
		IterationCount int64 `json:"iterationCount"`
		Every          int64 `json:"every"`
	}
	if err := json.Unmarshal(res[0], &sch); err != nil {
		t.Fatal(err)
	}
	if sch.Next != it.millis || sch.IterationCount != e.schedIC(name, "s") || sch.Every != 1000 {
		t.Fatalf("Node getJobScheduler %s, next iteration %d", res[0], it.millis)
	}
	// Node can read every Go-created iteration.
	var ids []string
	for _, s := range started {
		ids = append(ids, s.ID)
	}
	ids = append(ids, it.id)
	jobs, _ := e.nodeInspect(name, ids, nil)
	for _, id := range ids {
		if m := jobs[id]; m.Job == nil || m.Job.Name != "tick" {
			t.Fatalf("Node reads %s as %s", id, m.Raw)
		}
	}
}

// Checklist 33: iterations created by a Go worker are advanced by a Node
// worker and the other way round.
func TestInterop33_SchedulerHandoffGoNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("s33")
	e.schedOps(name, map[string]any{"op": "upsert", "id": "h", "repeat": map[string]any{"every": 700},
		"template": map[string]any{"name": "hop", "data": map[string]any{}}})

	// Go runs two iterations.
	w, rec := e.goWorker(name, nil, nil)
	rec.waitFinals(t, 2, 10*time.Second)
	closeWorker(t, w)
	goStarted, _, _ := rec.snapshot()
	goNext := e.iteration(name, "h") // created by the Go worker
	if goNext.repeat["every"] != float64(700) || goNext.repeat["count"] == nil {
		t.Fatalf("Go-created iteration %+v", goNext)
	}

	// Node runs two: the first is the Go-created one.
	p := startPeer(e.ctx, t, "work", e.args(name, map[string]any{"exitAfter": 2}))
	nodeStarted := p.collect(20*time.Second, "started")
	if len(nodeStarted) < 2 || nodeStarted[0].ID != goNext.id {
		t.Fatalf("Node started %v, want %s first", nodeStarted, goNext.id)
	}
	if strings.Contains(p.stderr.String(), "next iteration") {
		t.Fatalf("Node worker could not advance: %s", p.stderr.String())
	}
	nodeNext := e.iteration(name, "h") // created by the Node worker
	if nodeNext.millis <= iterMillis(t, nodeStarted[len(nodeStarted)-1].ID) {
		t.Fatalf("Node did not advance: next %s", nodeNext.id)
	}

	// Go again: starts the Node-created iteration and advances it.
	w2, rec2 := e.goWorker(name, nil, nil)
	rec2.waitFinals(t, 1, 10*time.Second)
	closeWorker(t, w2)
	st2, _, _ := rec2.snapshot()
	if st2[0].ID != nodeNext.id {
		t.Fatalf("Go started %s, want the Node-created %s", st2[0].ID, nodeNext.id)
	}
	final := e.iteration(name, "h")
	if final.millis <= iterMillis(t, st2[len(st2)-1].ID) {
		t.Fatalf("Go did not advance a Node-created iteration: %s", final.id)
	}
	total := len(goStarted) + len(nodeStarted) + len(st2)
	if final.repeat["count"] != float64(total+1) {
		t.Fatalf("count %v after %d iterations", final.repeat["count"], total)
	}
}

// Checklist 32: a cron scheduler (*/2 * * * * *, UTC) advanced by a Go
// worker gets the times cron-parser gives: every iteration on an even
// second after the previous one, prevMillis = its own millis, and the
// millis equal the next */2 slot after the advance time.
func TestInterop32_SchedulerCronGoWorkers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("s32")
	e.schedOps(name, map[string]any{"op": "upsert", "id": "c",
		"repeat":   map[string]any{"pattern": "*/2 * * * * *", "tz": "UTC"},
		"template": map[string]any{"name": "cron", "data": map[string]any{}}})
	w, rec := e.goWorker(name, nil, nil)
	rec.waitFinals(t, 2, 15*time.Second)
	closeWorker(t, w)
	started, _, _ := rec.snapshot()
	prev := int64(0)
	for _, s := range started {
		m := iterMillis(t, s.ID)
		if m%2000 != 0 || m <= prev {
			t.Fatalf("iteration times %v", started)
		}
		prev = m
	}
	it := e.iteration(name, "c")
	h := e.c.HGetAll(e.ctx, e.key(name, it.id)).Val()
	created, _ := strconv.ParseInt(h["timestamp"], 10, 64)
	// cron-parser: next even second strictly after max(created, prevMillis of the started job)
	base := max(created, prev)
	want := (base/2000 + 1) * 2000
	if it.millis != want || it.opts["prevMillis"] != float64(it.millis) || it.repeat["pattern"] != "*/2 * * * * *" ||
		it.repeat["tz"] != "UTC" || it.repeat["count"] != float64(len(started)+1) {
		t.Fatalf("next iteration %+v (created at %d, prev %d, want %d)", it, created, prev, want)
	}
	// A Node worker takes over the Go-created cron iteration and advances it.
	p := startPeer(e.ctx, t, "work", e.args(name, map[string]any{"exitAfter": 1}))
	ns := p.collect(20*time.Second, "started")
	if len(ns) != 1 || ns[0].ID != it.id || strings.Contains(p.stderr.String(), "next iteration") {
		t.Fatalf("Node started %v; stderr %s", ns, p.stderr.String())
	}
	if next := e.iteration(name, "c"); next.millis <= it.millis || next.millis%2000 != 0 {
		t.Fatalf("Node did not advance the Go-created cron iteration: %s", next.id)
	}
}

var _ = context.Background
