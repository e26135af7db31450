package interop

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// jobOp is one Job method call, run by Go on one queue and by Node on a
// twin queue.
type jobOp struct {
	ID   string
	Op   string
	Args []any
	Go   func(j *queue.Job) error
}

// queueState is what the ops may change: the state keys, the job hashes
// (but their add timestamps) and the events after the setup.
func (e *env) queueState(name string, ids []string, skipEvents int) string {
	e.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "wait %v\n", e.c.LRange(e.ctx, e.key(name, "wait"), 0, -1).Val())
	for _, z := range []string{"prioritized", "delayed"} {
		zs := e.c.ZRangeWithScores(e.ctx, e.key(name, z), 0, -1).Val()
		fmt.Fprintf(&b, "%s", z)
		for _, m := range zs {
			if z == "delayed" {
				fmt.Fprintf(&b, " %v", m.Member) // scores hold the add time
			} else {
				fmt.Fprintf(&b, " %v@%.0f", m.Member, m.Score)
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "pc %s\n", e.c.Get(e.ctx, e.key(name, "pc")).Val())
	for _, id := range ids {
		h := e.c.HGetAll(e.ctx, e.key(name, id)).Val()
		delete(h, "timestamp")
		hb, _ := json.Marshal(h)
		fmt.Fprintf(&b, "job %s %s\n", id, hb)
	}
	xs := e.streamEntries(name)
	for _, x := range xs[skipEvents:] {
		v := x.Values
		if v["event"] == "delayed" {
			v["delay"] = "<time>"
		}
		vb, _ := json.Marshal(v)
		fmt.Fprintf(&b, "event %s\n", vb)
	}
	return b.String()
}

// Go's Job.UpdateData, ChangePriority, ChangeDelay and Promote leave Redis
// exactly as Node's job methods leave a twin queue, and fail where Node
// fails.
func TestInteropJobOps_SameAsNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	goName, nodeName := e.queueName("go"), e.queueName("node")
	setup := []nodeJobSpec{
		{Name: "a", Data: map[string]any{"v": 1}},
		{Name: "b", Data: map[string]any{}},
		{Name: "c", Data: map[string]any{}, Opts: map[string]any{"priority": 5}},
		{Name: "d", Data: map[string]any{}, Opts: map[string]any{"delay": 3600000}},
		{Name: "e", Data: map[string]any{}, Opts: map[string]any{"delay": 7200000, "priority": 3}},
		{Name: "f", Data: map[string]any{}, Opts: map[string]any{"delay": 10800000}},
		{Name: "g", Data: map[string]any{}},
	}
	ids := e.nodeAdd(goName, setup)
	e.nodeAdd(nodeName, setup)
	skip := len(e.streamEntries(goName))
	if n := len(e.streamEntries(nodeName)); n != skip {
		t.Fatalf("setup events: %d and %d", skip, n)
	}
	ops := []jobOp{
		{"1", "updateData", []any{map[string]any{"new": true, "list": []int{1, 2}}}, func(j *queue.Job) error {
			return j.UpdateData(e.ctx, map[string]any{"new": true, "list": []int{1, 2}})
		}},
		{"2", "changePriority", []any{map[string]any{"priority": 4}}, func(j *queue.Job) error { return j.ChangePriority(e.ctx, 4, false) }},
		{"3", "changePriority", []any{map[string]any{"priority": 0}}, func(j *queue.Job) error { return j.ChangePriority(e.ctx, 0, false) }},
		{"1", "changePriority", []any{map[string]any{"priority": 7, "lifo": true}}, func(j *queue.Job) error { return j.ChangePriority(e.ctx, 7, true) }},
		{"7", "changePriority", []any{map[string]any{"priority": 0, "lifo": true}}, func(j *queue.Job) error { return j.ChangePriority(e.ctx, 0, true) }},
		{"6", "changePriority", []any{map[string]any{"priority": 2}}, func(j *queue.Job) error { return j.ChangePriority(e.ctx, 2, false) }},
		{"4", "changeDelay", []any{5000}, func(j *queue.Job) error { return j.ChangeDelay(e.ctx, 5*time.Second) }},
		{"5", "promote", nil, func(j *queue.Job) error { return j.Promote(e.ctx) }},
		{"6", "promote", nil, func(j *queue.Job) error { return j.Promote(e.ctx) }},
		{"1", "promote", nil, func(j *queue.Job) error { return j.Promote(e.ctx) }},
		{"2", "changeDelay", []any{100}, func(j *queue.Job) error { return j.ChangeDelay(e.ctx, 100*time.Millisecond) }},
	}
	q := e.goQueue(goName)
	var goErrs []bool
	for _, o := range ops {
		j, err := q.GetJob(e.ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		err = o.Go(j)
		goErrs = append(goErrs, err != nil)
		if err != nil && !errors.Is(err, queue.ErrNotInState) {
			t.Fatalf("Go %s %s: unexpected error %v", o.Op, o.ID, err)
		}
	}
	nodeOps := make([]map[string]any, len(ops))
	for i, o := range ops {
		nodeOps[i] = map[string]any{"id": o.ID, "op": o.Op, "args": o.Args}
	}
	p := startPeer(e.ctx, e.t, "jobops", e.args(nodeName, map[string]any{"ops": nodeOps}))
	res := p.collect(60*time.Second, "op")
	if len(res) != len(ops) {
		t.Fatalf("node ran %d of %d ops", len(res), len(ops))
	}
	for i, m := range res {
		var r struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(m.Raw, &r)
		if (r.Error != "") != goErrs[i] {
			t.Errorf("op %d %s %s: Node error %q, Go failed %v", i, ops[i].Op, ops[i].ID, r.Error, goErrs[i])
		}
	}
	g, n := e.queueState(goName, ids, skip), e.queueState(nodeName, ids, skip)
	if g != n {
		t.Fatalf("after the ops\nGo:\n%s\nNode:\n%s", g, n)
	}
	if !strings.Contains(g, `"event":"waiting","jobId":"5","prev":"delayed"`) {
		t.Fatalf("the fixture did not promote job 5:\n%s", g)
	}
}

// Go's Job.Retry leaves Redis as Node's job.retry leaves a twin queue
// whose jobs ran the same way, and fails where Node fails.
func TestInteropJobRetry_SameAsNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	goName, nodeName := e.queueName("go"), e.queueName("node")
	setup := []nodeJobSpec{
		{Name: "ok", Data: map[string]any{"return": 1}},
		{Name: "bad", Data: map[string]any{"fail": "x"}, Opts: map[string]any{"attempts": 1}},
		{Name: "bad", Data: map[string]any{"fail": "y"}, Opts: map[string]any{"attempts": 1}},
		{Name: "prio", Data: map[string]any{"return": "p"}, Opts: map[string]any{"priority": 2}},
		{Name: "lifo", Data: map[string]any{"return": "l"}, Opts: map[string]any{"lifo": true}},
	}
	ids := e.nodeAdd(goName, setup)
	e.nodeAdd(nodeName, setup)
	e.nodeProcess(goName, len(setup), nil)
	e.nodeProcess(nodeName, len(setup), nil)
	skip := len(e.streamEntries(goName))
	if n := len(e.streamEntries(nodeName)); n != skip {
		t.Fatalf("setup events: %d and %d", skip, n)
	}
	// An unrelated waiting job, so LIFO and FIFO placement differ.
	e.nodeAdd(goName, []nodeJobSpec{{Name: "w", Data: map[string]any{}}})
	e.nodeAdd(nodeName, []nodeJobSpec{{Name: "w", Data: map[string]any{}}})
	skip += 2
	ids = append(ids, "6")
	retry := func(from queue.JobState, o *queue.RetryOptions) func(j *queue.Job) error {
		return func(j *queue.Job) error { return j.Retry(e.ctx, from, o) }
	}
	ops := []jobOp{
		{"1", "retry", []any{"completed"}, retry(queue.StateCompleted, nil)},
		{"2", "retry", []any{"failed", map[string]any{"resetAttemptsMade": true}}, retry(queue.StateFailed, &queue.RetryOptions{ResetAttemptsMade: true})},
		{"3", "retry", []any{"completed"}, retry(queue.StateCompleted, nil)},
		{"4", "retry", []any{"completed", map[string]any{"resetAttemptsStarted": true}}, retry(queue.StateCompleted, &queue.RetryOptions{ResetAttemptsStarted: true})},
		{"5", "retry", []any{"completed"}, retry(queue.StateCompleted, nil)},
		{"1", "retry", []any{"completed"}, retry(queue.StateCompleted, nil)},
	}
	q := e.goQueue(goName)
	var goErrs []bool
	for _, o := range ops {
		j, err := q.GetJob(e.ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		err = o.Go(j)
		goErrs = append(goErrs, err != nil)
		if err != nil && !errors.Is(err, queue.ErrNotInState) {
			t.Fatalf("Go %s %s: unexpected error %v", o.Op, o.ID, err)
		}
	}
	nodeOps := make([]map[string]any, len(ops))
	for i, o := range ops {
		nodeOps[i] = map[string]any{"id": o.ID, "op": o.Op, "args": o.Args}
	}
	p := startPeer(e.ctx, e.t, "jobops", e.args(nodeName, map[string]any{"ops": nodeOps}))
	res := p.collect(60*time.Second, "op")
	for i, m := range res {
		var r struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(m.Raw, &r)
		if (r.Error != "") != goErrs[i] {
			t.Errorf("op %d %s %s: Node error %q, Go failed %v", i, ops[i].Op, ops[i].ID, r.Error, goErrs[i])
		}
	}
	state := func(name string) string {
		s := e.queueState(name, nil, skip)
		for _, z := range []string{"completed", "failed"} {
			s += fmt.Sprintf("%s %v\n", z, e.c.ZRange(e.ctx, e.key(name, z), 0, -1).Val())
		}
		for _, id := range ids {
			h := e.c.HGetAll(e.ctx, e.key(name, id)).Val()
			for _, f := range []string{"timestamp", "processedOn", "finishedOn"} {
				if _, ok := h[f]; ok {
					h[f] = "<time>"
				}
			}
			hb, _ := json.Marshal(h)
			s += fmt.Sprintf("job %s %s\n", id, hb)
		}
		return s
	}
	g, n := state(goName), state(nodeName)
	if g != n {
		t.Fatalf("after the retries\nGo:\n%s\nNode:\n%s", g, n)
	}
	if !strings.Contains(g, `"event":"waiting","jobId":"2","prev":"failed"`) {
		t.Fatalf("the fixture did not retry job 2:\n%s", g)
	}
}

// Go's Queue.RetryJobs (failed, completed) and PromoteJobs (in batches of
// 2) leave Redis as Node's retryJobs and promoteJobs leave a twin queue.
func TestInteropRetryPromoteJobs_SameAsNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	goName, nodeName := e.queueName("go"), e.queueName("node")
	setup := []nodeJobSpec{
		{Name: "ok", Data: map[string]any{"return": 1}},
		{Name: "bad", Data: map[string]any{"fail": "x"}, Opts: map[string]any{"attempts": 1}},
		{Name: "bad", Data: map[string]any{"fail": "y"}, Opts: map[string]any{"attempts": 1, "priority": 3}},
		{Name: "ok", Data: map[string]any{"return": 2}},
	}
	later := []nodeJobSpec{
		{Name: "d", Data: map[string]any{}, Opts: map[string]any{"delay": 3600000}},
		{Name: "d", Data: map[string]any{}, Opts: map[string]any{"delay": 3700000, "priority": 2}},
		{Name: "d", Data: map[string]any{}, Opts: map[string]any{"delay": 3800000}},
		{Name: "d", Data: map[string]any{}, Opts: map[string]any{"delay": 3900000}},
		{Name: "d", Data: map[string]any{}, Opts: map[string]any{"delay": 4000000}},
	}
	var ids []string
	for _, n := range []string{goName, nodeName} {
		ids = e.nodeAdd(n, setup)
		e.nodeProcess(n, len(setup), nil)
		ids = append(ids, e.nodeAdd(n, later)...)
	}
	skip := len(e.streamEntries(goName))
	if n := len(e.streamEntries(nodeName)); n != skip {
		t.Fatalf("setup events: %d and %d", skip, n)
	}
	q := e.goQueue(goName)
	if err := q.RetryJobs(e.ctx, queue.StateFailed, 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := q.RetryJobs(e.ctx, queue.StateCompleted, 1, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := q.PromoteJobs(e.ctx, 2); err != nil {
		t.Fatal(err)
	}
	p := startPeer(e.ctx, e.t, "admin", e.args(nodeName, map[string]any{"ops": []map[string]any{
		{"op": "retryJobs", "args": []any{map[string]any{"state": "failed"}}},
		{"op": "retryJobs", "args": []any{map[string]any{"state": "completed", "count": 1}}},
		{"op": "promoteJobs", "args": []any{map[string]any{"count": 2}}},
	}}))
	if got := p.collect(60*time.Second, "op"); len(got) != 3 {
		t.Fatalf("node ran %d ops", len(got))
	}
	state := func(name string) string {
		s := e.queueState(name, nil, skip)
		for _, z := range []string{"completed", "failed", "delayed"} {
			s += fmt.Sprintf("%s %v\n", z, e.c.ZRange(e.ctx, e.key(name, z), 0, -1).Val())
		}
		for _, id := range ids {
			h := e.c.HGetAll(e.ctx, e.key(name, id)).Val()
			for _, f := range []string{"timestamp", "processedOn", "finishedOn"} {
				if _, ok := h[f]; ok {
					h[f] = "<time>"
				}
			}
			hb, _ := json.Marshal(h)
			s += fmt.Sprintf("job %s %s\n", id, hb)
		}
		return s
	}
	g, n := state(goName), state(nodeName)
	if g != n {
		t.Fatalf("after retryJobs/promoteJobs\nGo:\n%s\nNode:\n%s", g, n)
	}
	if !strings.Contains(g, `"prev":"delayed"`) || !strings.Contains(g, `"prev":"failed"`) || !strings.Contains(g, "delayed []") {
		t.Fatalf("the fixture did not move the jobs:\n%s", g)
	}
}
