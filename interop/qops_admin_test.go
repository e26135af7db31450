package interop

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// seedAdmin writes the same jobs into queue name and its sibling queue
// child: seedRemovable's jobs (one per state, dedup owners, scheduler
// iterations), two active jobs (one locked), a fresh waiting job, and
// flows: pA (this queue) waiting for cA1 (wait) with cA2 processed; pB
// waiting for cB1 in child; pC in child waiting for cC1 (prioritized
// here); pL waiting for cL (active, locked); pF with a processed, an
// ignored failure, an unsuccessful (fpof) and a pending child.
func seedAdmin(t *testing.T, e *env, name, child string) {
	t.Helper()
	seedRemovable(t, e, name)
	k := func(q, s string) string { return e.key(q, s) }
	jk := func(q, id string) string { return e.prefix + ":" + q + ":" + id }
	job := func(q, id string, extra ...any) {
		f := append([]any{"name", "n-" + id, "data", `{"x":1}`, "opts", `{"attempts":1}`, "timestamp", 1700000000000,
			"delay", 0, "priority", 0}, extra...)
		if err := e.c.HSet(e.ctx, jk(q, id), f...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	childOf := func(pq, pid string) []any {
		return []any{"parentKey", jk(pq, pid), "parent", `{"id":"` + pid + `","queueKey":"` + e.prefix + ":" + pq + `"}`}
	}
	parent := func(q, id string, deps ...string) {
		job(q, id)
		e.c.ZAdd(e.ctx, k(q, "waiting-children"), redisZf(1700000000000, id))
		if len(deps) > 0 {
			e.c.SAdd(e.ctx, jk(q, id)+":dependencies", deps)
		}
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	// active jobs
	job(name, "ac", "processedOn", 1700000000000)
	job(name, "ac2", "processedOn", 1700000000000)
	must(e.c.Set(e.ctx, jk(name, "ac")+":lock", "tok", time.Hour).Err())
	// a fresh job: newer than any grace
	job(name, "nw", "timestamp", 4102444800000)
	// flow A, one queue
	parent(name, "pA", jk(name, "cA1"))
	e.c.HSet(e.ctx, jk(name, "pA")+":processed", jk(name, "cA2"), `"done"`)
	job(name, "cA1", childOf(name, "pA")...)
	job(name, "cA2", append(childOf(name, "pA"), "returnvalue", `"done"`, "finishedOn", 1700000002000)...)
	e.c.ZAdd(e.ctx, k(name, "completed"), redisZf(1700000002000, "cA2"))
	// flow B: child in the other queue
	parent(name, "pB", jk(child, "cB1"))
	job(child, "cB1", childOf(name, "pB")...)
	e.c.LPush(e.ctx, k(child, "wait"), "cB1")
	// flow C: parent in the other queue
	parent(child, "pC", jk(name, "cC1"))
	job(name, "cC1", append(childOf(child, "pC"), "priority", 2)...)
	e.c.ZAdd(e.ctx, k(name, "prioritized"), redisZf(2<<32+5, "cC1"))
	e.c.LPush(e.ctx, k(name, "wait"), "cA1", "nw")
	// flow L: a locked child
	parent(name, "pL", jk(name, "cL"))
	job(name, "cL", append(childOf(name, "pL"), "processedOn", 1700000000000)...)
	must(e.c.Set(e.ctx, jk(name, "cL")+":lock", "tok2", time.Hour).Err())
	e.c.LPush(e.ctx, k(name, "active"), "ac", "ac2", "cL")
	// flow F: every kind of child
	parent(name, "pF", jk(child, "cF3"))
	e.c.HSet(e.ctx, jk(name, "pF")+":processed", jk(child, "cF0"), "7")
	e.c.HSet(e.ctx, jk(name, "pF")+":failed", jk(child, "cF1"), "boom")
	e.c.ZAdd(e.ctx, jk(name, "pF")+":unsuccessful", redisZf(1700000001000, jk(name, "cF2")))
	job(child, "cF0", append(childOf(name, "pF"), "returnvalue", "7", "finishedOn", 1700000001000)...)
	e.c.ZAdd(e.ctx, k(child, "completed"), redisZf(1700000001000, "cF0"))
	job(child, "cF1", append(childOf(name, "pF"), "failedReason", "boom", "finishedOn", 1700000001000)...)
	e.c.ZAdd(e.ctx, k(child, "failed"), redisZf(1700000001000, "cF1"))
	job(name, "cF2", append(childOf(name, "pF"), "failedReason", "bad", "finishedOn", 1700000001000)...)
	e.c.ZAdd(e.ctx, k(name, "failed"), redisZf(1700000001000, "cF2"))
	job(child, "cF3", append(childOf(name, "pF"), "delay", 5000)...)
	e.c.ZAdd(e.ctx, k(child, "delayed"), redisZf(1700000005000*4096, "cF3"))
}

// twins is a pair of identically seeded queue pairs: Go acts on go/goC,
// Node on node/nodeC.
type twins struct {
	goQ, goC, nodeQ, nodeC string
}

func newTwins(t *testing.T, e *env, tag string) twins {
	tw := twins{goQ: e.queueName(tag + "-g"), nodeQ: e.queueName(tag + "-n")}
	tw.goC, tw.nodeC = tw.goQ+"c", tw.nodeQ+"c"
	seedAdmin(t, e, tw.goQ, tw.goC)
	seedAdmin(t, e, tw.nodeQ, tw.nodeC)
	return tw
}

// normDump renders both queues of one side with the queue names replaced
// by Q and QC, so the two sides compare.
func normDump(t *testing.T, e *env, q, c string) string {
	t.Helper()
	k1, ev1 := dumpQueue(t, e, q)
	k2, ev2 := dumpQueue(t, e, c)
	s := mustJSON(t, map[string]any{"q": k1, "qEvents": ev1, "c": k2, "cEvents": ev2})
	s = strings.ReplaceAll(s, c, "QC")
	return strings.ReplaceAll(s, q, "Q")
}

// compare fails when the Go side's keys and events differ from Node's.
func (tw twins) compare(t *testing.T, e *env, what string) string {
	t.Helper()
	g, n := normDump(t, e, tw.goQ, tw.goC), normDump(t, e, tw.nodeQ, tw.nodeC)
	if g != n {
		t.Errorf("%s: Redis state differs from Node's:\n go:   %s\n node: %s", what, g, n)
	}
	return n
}

// nodeAdmin runs Node Queue methods on queue name and returns each result.
func nodeAdmin(t *testing.T, e *env, name string, ops ...map[string]any) []json.RawMessage {
	t.Helper()
	p := startPeer(e.ctx, t, "admin", e.args(name, map[string]any{"ops": ops}))
	var out []json.RawMessage
	for _, m := range p.collect(60*time.Second, "op") {
		out = append(out, m.Result)
	}
	return out
}

// nodeAdminError runs one Node Queue method expected to throw, and returns
// the error text.
func nodeAdminError(t *testing.T, e *env, name string, op map[string]any) string {
	t.Helper()
	p := startPeerNoWait(e.ctx, t, "admin", e.args(name, map[string]any{"ops": []map[string]any{op}}))
	var msg string
	for m := range p.lines {
		if m.Type == "error" {
			msg = m.Message
		}
	}
	return msg
}

func op(name string, args ...any) map[string]any { return map[string]any{"op": name, "args": args} }

// TestInteropDrainLikeNode: Go Drain(delayed) and Node queue.drain(delayed)
// on twin seeded queues leave the same keys in both queues of each flow
// and the same events: ready jobs (and delayed ones when asked) gone with
// their sub-keys and owned dedup keys, the scheduler's current iteration
// kept, a same-queue parent left without dependencies deleted, the
// other-queue parent pC moved to its wait, active/finished jobs untouched.
func TestInteropDrainLikeNode(t *testing.T) {
	e := newEnv(t)
	for _, delayed := range []bool{false, true} {
		tw := newTwins(t, e, map[bool]string{false: "drain", true: "draind"}[delayed])
		nodeAdmin(t, e, tw.nodeQ, op("drain", delayed))
		if err := e.goQueue(tw.goQ).Drain(e.ctx, delayed); err != nil {
			t.Fatal(err)
		}
		n := tw.compare(t, e, "drain")
		// Spelled out, so two identical mistakes cannot pass.
		for _, gone := range []string{`"w1"`, `"cA1"`, `"nw"`, `"pA"`, `"de:d1"`, `"cC1"`} {
			if strings.Contains(n, gone+":") {
				t.Errorf("delayed=%v: %s survived Node's drain", delayed, gone)
			}
		}
		if !strings.Contains(n, `"repeat:s:2000":`) || !strings.Contains(n, `"co":`) {
			t.Errorf("delayed=%v: Node's drain removed the scheduler's iteration or a completed job", delayed)
		}
		if strings.Contains(n, `"dl":`) == delayed {
			t.Errorf("delayed=%v: job dl present = %v", delayed, !delayed)
		}
		st, err := e.goQueue(tw.goC).GetState(e.ctx, "pC")
		if err != nil || st != queue.StateWaiting {
			t.Errorf("pC state after Go drain = %s, %v", st, err)
		}
	}
}

// TestInteropCleanLikeNode: Go Clean(grace, limit, state) and Node
// queue.clean(grace, limit, state) for every state return the same ids
// and leave the same state and `cleaned` events: old jobs go (finished by
// finishedOn, others by processedOn/timestamp), a locked active job and
// the fresh job stay, flow parents are handled as in drain.
func TestInteropCleanLikeNode(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		state queue.JobState
		node  string
		limit int
	}{
		{queue.StateCompleted, "completed", 0}, {queue.StateFailed, "failed", 0}, {queue.StateDelayed, "delayed", 0},
		{queue.StatePrioritized, "prioritized", 0}, {queue.StateWaiting, "wait", 0}, {queue.StatePaused, "paused", 0},
		{queue.StateActive, "active", 0}, {queue.StateWaiting, "waiting", 2}, {queue.StateCompleted, "completed", 1},
	}
	for i, c := range cases {
		tw := newTwins(t, e, "clean"+string(rune('a'+i)))
		res := nodeAdmin(t, e, tw.nodeQ, op("clean", 60000, c.limit, c.node))
		ids, err := e.goQueue(tw.goQ).Clean(e.ctx, time.Minute, c.limit, c.state)
		if err != nil {
			t.Fatalf("%s: %v", c.node, err)
		}
		var nodeIDs []string
		if err := json.Unmarshal(res[0], &nodeIDs); err != nil {
			t.Fatal(err)
		}
		if mustJSON(t, ids) != mustJSON(t, nodeIDs) {
			t.Errorf("clean %s limit %d: go removed %q, node %q", c.node, c.limit, ids, nodeIDs)
		}
		if len(nodeIDs) == 0 {
			t.Errorf("clean %s: node removed nothing; the case tests nothing", c.node)
		}
		tw.compare(t, e, "clean "+c.node)
	}
	// A bad state is refused by name.
	if _, err := e.goQueue("x").Clean(e.ctx, 0, 0, "done"); err == nil || !strings.Contains(err.Error(), "done") {
		t.Errorf("clean of state done: %v", err)
	}
}

// TestInteropObliterateLikeNode: with an active locked job, Node's and
// Go's obliterate refuse without force (and remove nothing but pause);
// with force and a small count (several batches) they leave the same keys
// (waiting-children and flow parents' keys stay, as in BullMQ) in both
// queues; Node then sees an empty, unpaused queue.
func TestInteropObliterateLikeNode(t *testing.T) {
	e := newEnv(t)
	tw := newTwins(t, e, "obl")
	msg := nodeAdminError(t, e, tw.nodeQ, op("obliterate"))
	if !strings.Contains(msg, "active jobs") {
		t.Errorf("node obliterate without force: %q", msg)
	}
	gq := e.goQueue(tw.goQ)
	if err := gq.Obliterate(e.ctx, nil); !errors.Is(err, queue.ErrActiveJobs) {
		t.Errorf("go obliterate without force: %v", err)
	}
	tw.compare(t, e, "refused obliterate")
	nodeAdmin(t, e, tw.nodeQ, op("obliterate", map[string]any{"force": true, "count": 3}))
	if err := gq.Obliterate(e.ctx, &queue.ObliterateOptions{Force: true, Count: 3}); err != nil {
		t.Fatal(err)
	}
	n := tw.compare(t, e, "obliterate")
	for _, gone := range []string{`"meta"`, `"events"`, `"w1"`, `"ac"`, `"ac:lock"`, `"repeat:s"`, `"co:logs"`} {
		if strings.Contains(n, gone+":") {
			t.Errorf("%s survived Node's obliterate", gone)
		}
	}
	_, nq := e.nodeInspect(tw.goQ, nil, nil)
	if nq.Paused || nq.Counts["waiting"]+nq.Counts["active"]+nq.Counts["completed"]+nq.Counts["failed"]+nq.Counts["delayed"] != 0 {
		t.Errorf("node sees the obliterated Go queue as %+v", nq)
	}
}

// TestInteropRemoveFlowLikeNode: Go Remove/RemoveWithOptions and Node
// queue.remove(id, {removeChildren}) on flows: removing parent pA removes
// its processed and pending children (the last pending child's removal
// moves pA to wait first, as BullMQ does, hence `removed` prev=wait);
// removing cC1 releases pC in the other queue (`waiting`
// prev=waiting-children there); removing pB with removeChildren false
// keeps cB1; removing pL is refused while its child is locked (Node
// returns 0, Go ErrJobLocked). Same keys and events on both sides.
func TestInteropRemoveFlowLikeNode(t *testing.T) {
	e := newEnv(t)
	tw := newTwins(t, e, "rmf")
	res := nodeAdmin(t, e, tw.nodeQ, op("remove", "pA"), op("remove", "cC1"),
		op("remove", "pB", map[string]any{"removeChildren": false}), op("remove", "pL"), op("remove", "pF"))
	if mustJSON(t, res) != `[1,1,1,0,1]` {
		t.Errorf("node remove results %s", mustJSON(t, res))
	}
	gq := e.goQueue(tw.goQ)
	for _, id := range []string{"pA", "cC1"} {
		if err := gq.Remove(e.ctx, id); err != nil {
			t.Errorf("go remove %s: %v", id, err)
		}
	}
	if err := gq.RemoveWithOptions(e.ctx, "pB", &queue.RemoveOptions{KeepChildren: true}); err != nil {
		t.Error(err)
	}
	if err := gq.Remove(e.ctx, "pL"); !errors.Is(err, queue.ErrJobLocked) {
		t.Errorf("go remove pL: %v", err)
	}
	j, err := gq.GetJob(e.ctx, "pF")
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Remove(e.ctx); err != nil {
		t.Error(err)
	}
	n := tw.compare(t, e, "remove")
	for _, want := range []string{"event=removed jobId=cA1 prev=wait", "event=removed jobId=pA prev=wait",
		"event=waiting jobId=pC prev=waiting-children", "event=removed jobId=cF2 prev=failed"} {
		if !strings.Contains(n, want) {
			t.Errorf("Node's events lack %q", want)
		}
	}
	if !strings.Contains(n, `"cB1":`) || !strings.Contains(n, `"cL":`) {
		t.Error("Node removed a kept child")
	}
}

// TestInteropGetDependenciesLikeNode: Go Job.GetDependencies equals Node's
// job.getDependencies() in full and with paging options (processed
// values decoded, pending, ignored failures, unsuccessful children,
// cursors).
func TestInteropGetDependenciesLikeNode(t *testing.T) {
	e := newEnv(t)
	name := e.queueName("deps")
	seedAdmin(t, e, name, name+"c")
	page := map[string]any{"count": 10}
	p := startPeer(e.ctx, t, "jobops", e.args(name, map[string]any{"ops": []map[string]any{
		{"id": "pF", "op": "getDependencies"},
		{"id": "pF", "op": "getDependencies", "args": []any{map[string]any{"processed": page, "unprocessed": page, "ignored": page, "failed": page}}},
		{"id": "pF", "op": "getDependencies", "args": []any{map[string]any{"failed": map[string]any{"cursor": 0, "count": 1}}}},
		{"id": "w1", "op": "getDependencies"},
	}}))
	var nodeRes []json.RawMessage
	for _, m := range p.collect(30*time.Second, "op") {
		nodeRes = append(nodeRes, m.Result)
	}
	j, err := e.goQueue(name).GetJob(e.ctx, "pF")
	if err != nil {
		t.Fatal(err)
	}
	w1, err := e.goQueue(name).GetJob(e.ctx, "w1")
	if err != nil {
		t.Fatal(err)
	}
	pg := &queue.DependencyPage{Count: 10}
	calls := []struct {
		job  *queue.Job
		opts *queue.DependenciesOptions
	}{
		{j, nil}, {j, &queue.DependenciesOptions{Processed: pg, Unprocessed: pg, Ignored: pg, Failed: pg}},
		{j, &queue.DependenciesOptions{Failed: &queue.DependencyPage{Count: 1}}}, {w1, nil},
	}
	for i, c := range calls {
		d, err := c.job.GetDependencies(e.ctx, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		var node map[string]json.RawMessage
		if err := json.Unmarshal(nodeRes[i], &node); err != nil {
			t.Fatal(err)
		}
		gb, _ := json.Marshal(d)
		var got map[string]json.RawMessage
		_ = json.Unmarshal(gb, &got)
		for k, nv := range node {
			gv, ok := got[k]
			if !ok {
				// omitted by Go: empty value or zero cursor
				gv = map[bool]json.RawMessage{true: json.RawMessage("0"), false: json.RawMessage("{}")}[strings.HasPrefix(k, "next")]
				if k == "unprocessed" || k == "failed" {
					gv = json.RawMessage("[]")
				}
			}
			if k == "unprocessed" {
				var a, b []string
				_ = json.Unmarshal(nv, &a)
				_ = json.Unmarshal(gv, &b)
				sort.Strings(a)
				sort.Strings(b)
				nv, gv = json.RawMessage(mustJSON(t, a)), json.RawMessage(mustJSON(t, b))
			}
			if !jsonEqual(nv, gv) {
				t.Errorf("call %d %s: go %s, node %s", i, k, gv, nv)
			}
		}
		for k := range got {
			if _, ok := node[k]; !ok {
				t.Errorf("call %d: go has %s, node not", i, k)
			}
		}
	}
	if !strings.Contains(string(nodeRes[0]), `"ignored":{"`) {
		t.Errorf("node result without ignored children: %s", nodeRes[0])
	}
}

// TestInteropRemoveNodeFlow: on a flow added by Node's FlowProducer
// (parent in one queue, two children in another), Go's GetDependencies
// lists both children as pending; removing one child with KeepChildren
// leaves the parent waiting for the other; removing the parent removes
// the remaining child too; Node then finds neither (state unknown).
func TestInteropRemoveNodeFlow(t *testing.T) {
	e := newEnv(t)
	pq, cq := e.queueName("nf-p"), e.queueName("nf-c")
	p := startPeer(e.ctx, t, "flow", e.args(pq, map[string]any{"flow": map[string]any{
		"name": "parent", "queueName": pq, "data": map[string]any{},
		"children": []map[string]any{{"name": "c1", "queueName": cq, "data": map[string]any{}}, {"name": "c2", "queueName": cq, "data": map[string]any{}}},
	}}))
	m := p.waitType("flow", 20*time.Second)
	if len(m.Children) != 2 {
		t.Fatalf("flow children %v", m.Children)
	}
	parent, err := e.goQueue(pq).GetJob(e.ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	d, err := parent.GetDependencies(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := sortedStrings([]string{e.key(cq, m.Children[0]), e.key(cq, m.Children[1])})
	if mustJSON(t, sortedStrings(d.Unprocessed)) != mustJSON(t, want) {
		t.Errorf("pending children %q, want %q", d.Unprocessed, want)
	}
	if err := e.goQueue(cq).RemoveWithOptions(e.ctx, m.Children[0], &queue.RemoveOptions{KeepChildren: true}); err != nil {
		t.Fatal(err)
	}
	if st, _ := parent.GetState(e.ctx); st != queue.StateWaitingChildren {
		t.Errorf("parent state after one child removed: %s", st)
	}
	if err := parent.Remove(e.ctx); err != nil {
		t.Fatal(err)
	}
	jobs, _ := e.nodeInspect(cq, m.Children, nil)
	pj, _ := e.nodeInspect(pq, []string{m.ID}, nil)
	for id, j := range jobs {
		if j.State != "unknown" || j.Job != nil {
			t.Errorf("node sees child %s as %s", id, j.State)
		}
	}
	if pj[m.ID].State != "unknown" {
		t.Errorf("node sees the parent as %s", pj[m.ID].State)
	}
}
