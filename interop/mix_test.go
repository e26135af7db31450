package interop

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// mixJob is one entry of the mixed workload, expressed for both producers.
// data drives the processor on either side (see processJob in peer.js and
// goHandler in worker_test.go).
type mixJob struct {
	label string
	data  map[string]any
	node  map[string]any
	goOpt *queue.AddOptions
}

// theMix is the mixed input of the round-trip tests. Its outcome does not
// depend on timing with one worker of concurrency 1: the only timed jobs
// (exponential backoff, delay) either fail (the failed set has no count
// retention) or finish after everything else with an age-only retention;
// prio-last, the last untimed job to complete, keeps the newest 3 completed
// jobs, and prio-1 sleeps so that no finishedOn tie decides the trim.
func theMix() []mixJob {
	return []mixJob{
		{"plain-a", map[string]any{"return": "A"}, nil, nil},
		{"plain-b", map[string]any{"return": map[string]any{"k": []any{1, 2}, "s": "é"}}, nil, nil},
		{"custom", map[string]any{"return": 3}, map[string]any{"jobId": "mix-custom"}, &queue.AddOptions{JobID: "mix-custom"}},
		{"lifo", map[string]any{"return": "L"}, map[string]any{"lifo": true}, &queue.AddOptions{LIFO: true}},
		{"prio-2", map[string]any{"return": "P2"}, map[string]any{"priority": 2}, &queue.AddOptions{Priority: 2}},
		{"prio-1", map[string]any{"return": "P1", "sleepMs": 40}, map[string]any{"priority": 1}, &queue.AddOptions{Priority: 1}},
		{"retry-ok", map[string]any{"fail": "flaky", "failTimes": 2, "return": "R"}, map[string]any{"attempts": 3},
			&queue.AddOptions{Attempts: 3}},
		{"retry-exp", map[string]any{"fail": "always-exp"},
			map[string]any{"attempts": 3, "backoff": map[string]any{"type": "exponential", "delay": 300}},
			&queue.AddOptions{Attempts: 3, Backoff: &queue.Backoff{Type: "exponential", Delay: 300 * time.Millisecond}}},
		{"fail-final", map[string]any{"fail": "always"}, map[string]any{"attempts": 2}, &queue.AddOptions{Attempts: 2}},
		{"unrecoverable", map[string]any{"unrecoverable": "fatal"}, map[string]any{"attempts": 5}, &queue.AddOptions{Attempts: 5}},
		{"roc-true", map[string]any{"return": "gone"}, map[string]any{"removeOnComplete": true}, &queue.AddOptions{RemoveOnComplete: queue.RemoveAll()}},
		{"rof-true", map[string]any{"fail": "x"}, map[string]any{"removeOnFail": true}, &queue.AddOptions{RemoveOnFail: queue.RemoveAll()}},
		{"rof-count", map[string]any{"fail": "y"}, map[string]any{"removeOnFail": 1}, &queue.AddOptions{RemoveOnFail: queue.KeepLast(1)}},
		{"delayed-age", map[string]any{"return": "D"}, map[string]any{"delay": 4000, "removeOnComplete": map[string]any{"age": 3600}},
			&queue.AddOptions{Delay: 4 * time.Second, RemoveOnComplete: queue.KeepFor(time.Hour, -1)}},
		{"prio-last", map[string]any{"return": "P3"}, map[string]any{"priority": 3, "removeOnComplete": 3},
			&queue.AddOptions{Priority: 3, RemoveOnComplete: queue.KeepLast(3)}},
	}
}

func (m mixJob) wantReturn() (json.RawMessage, bool) {
	if m.data["fail"] != nil && m.data["failTimes"] == nil || m.data["unrecoverable"] != nil {
		return nil, false
	}
	b, _ := json.Marshal(m.data["return"])
	return b, true
}

func (m mixJob) wantReason() string {
	if r, ok := m.data["unrecoverable"].(string); ok {
		return r
	}
	if m.data["failTimes"] != nil {
		return ""
	}
	r, _ := m.data["fail"].(string)
	return r
}

func mixNodeSpecs(mix []mixJob) []nodeJobSpec {
	out := make([]nodeJobSpec, len(mix))
	for i, m := range mix {
		out[i] = nodeJobSpec{Name: m.label, Data: m.data, Opts: m.node}
	}
	return out
}

func (e *env) goAddMix(name string, mix []mixJob) []string {
	e.t.Helper()
	q := e.goQueue(name)
	ids := make([]string, len(mix))
	for i, m := range mix {
		j, err := q.Add(e.ctx, m.label, m.data, m.goOpt)
		if err != nil {
			e.t.Fatalf("Go add %s: %v", m.label, err)
		}
		ids[i] = j.ID
	}
	return ids
}

// finalJob is what the comparison looks at for one job after processing.
type finalJob struct {
	State        string
	Exists       bool
	ReturnValue  string
	FailedReason string
	AttemptsMade int
	Started      int
	Stalled      int
	Delay        int64
}

type finalQueue struct {
	Jobs      []finalJob
	Counts    queue.Counts
	Completed []string // members of Q:completed, by score
	Failed    []string
	Wait      []string
	Active    []string
	Delayed   int64
}

// finalState reads the outcome of ids on queue name with the Go side.
func (e *env) finalState(name string, ids []string) finalQueue {
	e.t.Helper()
	q := e.goQueue(name)
	var f finalQueue
	for _, id := range ids {
		st, err := q.GetState(e.ctx, id)
		if err != nil {
			e.t.Fatal(err)
		}
		fj := finalJob{State: string(st)}
		j, err := q.GetJob(e.ctx, id)
		switch {
		case errors.Is(err, queue.ErrJobNotFound):
		case err != nil:
			e.t.Fatalf("GetJob %s: %v", id, err)
		default:
			fj.Exists = true
			fj.ReturnValue = string(j.ReturnValue)
			fj.FailedReason = j.FailedReason
			fj.AttemptsMade = j.AttemptsMade
			fj.Started = j.AttemptsStarted
			fj.Stalled = j.StalledCounter
			fj.Delay = j.Delay
		}
		f.Jobs = append(f.Jobs, fj)
	}
	var err error
	if f.Counts, err = q.Counts(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	f.Completed = e.c.ZRange(e.ctx, e.key(name, "completed"), 0, -1).Val()
	f.Failed = e.c.ZRange(e.ctx, e.key(name, "failed"), 0, -1).Val()
	f.Wait = e.c.LRange(e.ctx, e.key(name, "wait"), 0, -1).Val()
	f.Active = e.c.LRange(e.ctx, e.key(name, "active"), 0, -1).Val()
	f.Delayed = e.c.ZCard(e.ctx, e.key(name, "delayed")).Val()
	return f
}

// compareFinal fails the test when got differs from the Node reference want.
func compareFinal(t *testing.T, mix []mixJob, got, want finalQueue) {
	t.Helper()
	for i := range mix {
		if !reflect.DeepEqual(got.Jobs[i], want.Jobs[i]) {
			t.Errorf("%s: got %+v, Node reference %+v", mix[i].label, got.Jobs[i], want.Jobs[i])
		}
	}
	if got.Counts != want.Counts {
		t.Errorf("counts: got %+v, Node reference %+v", got.Counts, want.Counts)
	}
	for _, c := range []struct {
		what string
		g, w []string
	}{{"completed", got.Completed, want.Completed}, {"failed", got.Failed, want.Failed}, {"wait", got.Wait, want.Wait}, {"active", got.Active, want.Active}} {
		if !reflect.DeepEqual(sortedStrings(c.g), sortedStrings(c.w)) {
			t.Errorf("%s members: got %v, Node reference %v", c.what, c.g, c.w)
		}
	}
	if got.Delayed != want.Delayed {
		t.Errorf("delayed: got %d, Node reference %d", got.Delayed, want.Delayed)
	}
	// Sanity: the expected outcome itself.
	for i, m := range mix {
		j := got.Jobs[i]
		if rv, ok := m.wantReturn(); ok && j.Exists && !jsonEqual([]byte(j.ReturnValue), rv) {
			t.Errorf("%s: returnvalue %s, want %s", m.label, j.ReturnValue, rv)
		}
		if r := m.wantReason(); r != "" && j.Exists && j.FailedReason != r {
			t.Errorf("%s: failedReason %q, want %q", m.label, j.FailedReason, r)
		}
	}
}

// checkMixEvents checks what a Node QueueEvents saw on a processed mix:
// a `completed` event with the return value for each completed job and a
// `failed` event with the reason for each failure.
func checkMixEvents(t *testing.T, mix []mixJob, ids []string, evs []msg) {
	t.Helper()
	completed := map[string]any{}
	failed := map[string][]string{}
	for _, ev := range evs {
		id, _ := ev.Args["jobId"].(string)
		switch ev.Event {
		case "completed":
			completed[id] = ev.Args["returnvalue"]
		case "failed":
			r, _ := ev.Args["failedReason"].(string)
			failed[id] = append(failed[id], r)
		}
	}
	for i, m := range mix {
		if rv, ok := m.wantReturn(); ok {
			var want any
			_ = json.Unmarshal(rv, &want)
			got, seen := completed[ids[i]]
			if !seen || !reflect.DeepEqual(got, want) {
				t.Errorf("%s: QueueEvents completed = %v (seen %v), want %v", m.label, got, seen, want)
			}
		}
		if r := m.wantReason(); r != "" {
			if len(failed[ids[i]]) == 0 || failed[ids[i]][len(failed[ids[i]])-1] != r {
				t.Errorf("%s: QueueEvents failed reasons %v, want last %q", m.label, failed[ids[i]], r)
			}
		}
	}
}

// readAllEvents runs a Node QueueEvents from id 0 on queue name until it has
// delivered the last entry currently in the stream, and returns the events.
// It fails on any QueueEvents error (an entry Node cannot parse).
func (e *env) readAllEvents(name string) []msg {
	e.t.Helper()
	xs := e.streamEntries(name)
	if len(xs) == 0 {
		e.t.Fatalf("no events on %s", name)
	}
	last := xs[len(xs)-1].ID
	p := startPeer(e.ctx, e.t, "events", e.args(name, nil))
	var out []msg
	p.waitFor("event "+last, 60*time.Second, func(m msg) bool {
		if m.Type == "event" {
			out = append(out, m)
		}
		return m.Type == "event" && m.StreamID == last
	})
	p.terminate(20 * time.Second)
	if len(out) != len(xs) {
		e.t.Fatalf("Node QueueEvents delivered %d events, the stream has %d", len(out), len(xs))
	}
	for i := range xs {
		if out[i].StreamID != xs[i].ID || out[i].Event != xs[i].Values["event"] {
			e.t.Fatalf("event %d: Node saw %s %s, stream has %s %v", i, out[i].StreamID, out[i].Event, xs[i].ID, xs[i].Values)
		}
	}
	return out
}

// nodeProcess runs a Node worker (concurrency 1) on queue name until n jobs
// have finished for good.
func (e *env) nodeProcess(name string, n int, extra map[string]any) []msg {
	e.t.Helper()
	a := map[string]any{"exitAfter": n, "concurrency": 1}
	for k, v := range extra {
		a[k] = v
	}
	p := startPeer(e.ctx, e.t, "work", e.args(name, a))
	return p.collect(90 * time.Second)
}

// Go adds the mix → a Node worker processes it; the outcome equals that of
// the same input added by Node, read from the Go side and from Node.
func TestInteropMix_GoAddsNodeWorks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mix := theMix()
	goName, refName := e.queueName("g"), e.queueName("ref")
	goIDs := e.goAddMix(goName, mix)
	refIDs := e.nodeAdd(refName, mixNodeSpecs(mix))
	if !reflect.DeepEqual(goIDs, refIDs) {
		t.Fatalf("ids: Go %v, Node %v", goIDs, refIDs)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.nodeProcess(refName, len(mix), nil)
	}()
	e.nodeProcess(goName, len(mix), nil)
	<-done
	got, want := e.finalState(goName, goIDs), e.finalState(refName, refIDs)
	compareFinal(t, mix, got, want)
	checkMixEvents(t, mix, goIDs, e.readAllEvents(goName))

	// Node's own view of the Go-added queue matches Go's view.
	nj, nq := e.nodeInspect(goName, goIDs, nil)
	for i, id := range goIDs {
		if nj[id].State != got.Jobs[i].State {
			t.Errorf("%s: Node getJobState %s, Go GetState %s", mix[i].label, nj[id].State, got.Jobs[i].State)
		}
	}
	if nq.Counts["completed"] != got.Counts.Completed || nq.Counts["failed"] != got.Counts.Failed {
		t.Errorf("Node counts %v, Go %+v", nq.Counts, got.Counts)
	}
}

// Checklist 4: FIFO order of Go adds as seen by a Node worker; LIFO jumps
// the line.
func TestInterop04_FIFOAndLIFOOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, lifo := range []bool{false, true} {
		name := e.queueName(strconv.FormatBool(lifo))
		q := e.goQueue(name)
		for _, n := range []string{"A", "B", "C"} {
			if _, err := q.Add(e.ctx, n, nil, &queue.AddOptions{LIFO: lifo && n == "C"}); err != nil {
				t.Fatal(err)
			}
		}
		var order []string
		for _, m := range e.nodeProcess(name, 3, nil) {
			if m.Type == "started" {
				order = append(order, m.Name)
			}
		}
		want := []string{"A", "B", "C"}
		if lifo {
			want = []string{"C", "A", "B"}
		}
		if !reflect.DeepEqual(order, want) {
			t.Errorf("lifo=%v: Node started %v, want %v", lifo, order, want)
		}
	}
}

// Checklist 5: priority scores written by Go and the order Node honours.
func TestInterop05_Priority(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("")
	q := e.goQueue(name)
	adds := []struct {
		n string
		p int
	}{{"a", 5}, {"b", 0}, {"c", 1}, {"d", 5}, {"e", 0}, {"f", 1}}
	ids := map[string]string{}
	for _, a := range adds {
		j, err := q.Add(e.ctx, a.n, nil, &queue.AddOptions{Priority: a.p})
		if err != nil {
			t.Fatal(err)
		}
		ids[a.n] = j.ID
	}
	for n, want := range map[string]float64{"a": 5<<32 + 1, "c": 1<<32 + 2, "d": 5<<32 + 3, "f": 1<<32 + 4} {
		if s := e.c.ZScore(e.ctx, e.key(name, "prioritized"), ids[n]).Val(); s != want {
			t.Errorf("score of %s = %v, want %v", n, s, want)
		}
	}
	if pc := e.c.Get(e.ctx, e.key(name, "pc")).Val(); pc != "4" {
		t.Errorf("pc = %s, want 4", pc)
	}
	var order []string
	for _, m := range e.nodeProcess(name, len(adds), nil) {
		if m.Type == "started" {
			order = append(order, m.Name)
		}
	}
	if want := []string{"b", "e", "c", "f", "a", "d"}; !reflect.DeepEqual(order, want) {
		t.Errorf("Node started %v, want %v", order, want)
	}
}

// Checklist 6: a Go delayed add; an idle Node worker (default drainDelay 5 s,
// so only the marker can wake it in time) starts it when due.
func TestInterop06_Delayed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("")
	q := e.goQueue(name)
	j, err := q.Add(e.ctx, "later", map[string]any{"return": "ok"}, &queue.AddOptions{Delay: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	due := j.Timestamp + 5000
	if s := e.c.ZScore(e.ctx, e.key(name, "delayed"), j.ID).Val(); s != float64(due*4096) {
		t.Errorf("delayed score %v, want %d", s, due*4096)
	}
	if s, err := e.c.ZScore(e.ctx, e.key(name, "marker"), "1").Result(); err != nil || s != float64(due) {
		t.Errorf("marker 1 score %v (%v), want %d", s, err, due)
	}
	if d := e.c.HGet(e.ctx, e.key(name, j.ID), "delay").Val(); d != "5000" {
		t.Errorf("hash delay %s, want 5000", d)
	}
	// An idle worker consumes the marker (BZPOPMIN) and sleeps until its
	// score, so the worker starts after the marker was checked.
	p := startPeer(e.ctx, t, "work", e.args(name, map[string]any{"exitAfter": 1, "drainDelay": 5}))
	started := p.waitType("started", 15*time.Second)
	if started.TS < due || started.TS > due+1500 {
		t.Errorf("Node started the job at due%+dms, want within [0, 1500] (marker 1 missing or wrong?)", started.TS-due)
	}
	p.collect(20 * time.Second)
	if d := e.c.HGet(e.ctx, e.key(name, j.ID), "delay").Val(); d != "0" {
		t.Errorf("hash delay after promotion %s, want 0", d)
	}
	var seq []string
	for _, x := range e.streamEntries(name) {
		if x.Values["jobId"] != j.ID {
			continue
		}
		s, _ := x.Values["event"].(string)
		if s == "delayed" && x.Values["delay"] != strconv.FormatInt(due, 10) {
			t.Errorf("delayed event delay = %v, want %d", x.Values["delay"], due)
		}
		if s == "waiting" {
			s += "/" + toString(x.Values["prev"])
		}
		seq = append(seq, s)
	}
	if want := []string{"added", "delayed", "waiting/delayed", "active", "completed"}; !reflect.DeepEqual(seq, want) {
		t.Errorf("events %v, want %v", seq, want)
	}
}

func toString(v any) string { s, _ := v.(string); return s }

// Checklist 7: three Go delayed adds due in the same millisecond get
// k = 0, 1, 2 and Node starts them in that order.
func TestInterop07_SameMillisecondDelayed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("")
	q := e.goQueue(name)
	ts := time.Now()
	due := ts.UnixMilli() + 1500
	for i, n := range []string{"x", "y", "z"} {
		j, err := q.Add(e.ctx, n, nil, &queue.AddOptions{Timestamp: ts, Delay: 1500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if s := e.c.ZScore(e.ctx, e.key(name, "delayed"), j.ID).Val(); s != float64(due*4096+int64(i)) {
			t.Errorf("%s: score %v, want %d", n, s, due*4096+int64(i))
		}
	}
	var order []string
	for _, m := range e.nodeProcess(name, 3, nil) {
		if m.Type == "started" {
			order = append(order, m.Name)
		}
	}
	if want := []string{"x", "y", "z"}; !reflect.DeepEqual(order, want) {
		t.Errorf("Node started %v, want %v", order, want)
	}
}

// Checklist 39: Go GetState equals Node getJobState in every state,
// including a legacy v5 `paused` list entry.
func TestInterop39_GetStateEveryState(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("")
	q := e.goQueue(name)
	add := func(n string, data any, o *queue.AddOptions) string {
		t.Helper()
		j, err := q.Add(e.ctx, n, data, o)
		if err != nil {
			t.Fatal(err)
		}
		return j.ID
	}
	want := map[string]string{}
	want[add("c", map[string]any{"return": 1}, nil)] = "completed"
	want[add("f", map[string]any{"fail": "no"}, nil)] = "failed"
	e.nodeProcess(name, 2, nil)
	act := add("a", nil, nil)
	want[act] = "active"
	h := startPeer(e.ctx, t, "hang", e.args(name, nil))
	h.waitFor("active job", 10*time.Second, func(m msg) bool { return m.Type == "started" && m.ID == act })
	want[add("w", nil, nil)] = "waiting"
	want[add("p", nil, &queue.AddOptions{Priority: 4})] = "prioritized"
	want[add("d", nil, &queue.AddOptions{Delay: time.Hour})] = "delayed"
	fp := startPeer(e.ctx, t, "flow", e.args(name, map[string]any{"flow": map[string]any{
		"name": "parent", "queueName": name, "data": map[string]any{},
		"children": []any{map[string]any{"name": "child", "queueName": name + "-children", "data": map[string]any{}}},
	}}))
	parent := fp.waitType("flow", 20*time.Second).ID
	fp.collect(10 * time.Second)
	want[parent] = "waiting-children"
	want["legacy-paused"] = "waiting"
	if err := e.c.LPush(e.ctx, e.key(name, "paused"), "legacy-paused").Err(); err != nil {
		t.Fatal(err)
	}
	want["nope"] = "unknown"
	var ids []string
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	nj, _ := e.nodeInspect(name, ids, nil)
	for _, id := range ids {
		st, err := q.GetState(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if string(st) != nj[id].State || string(st) != want[id] {
			t.Errorf("job %s: Go %s, Node %s, want %s", id, st, nj[id].State, want[id])
		}
	}
}
