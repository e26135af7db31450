package interop

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// nodeFlow adds a Node FlowProducer flow: parent on queue parentQ, children
// (name, data, opts) on queue childQ. It returns the parent id and the
// child ids in the order given.
func (e *env) nodeFlow(parentQ, childQ string, parentData any, children []nodeJobSpec) (string, []string) {
	e.t.Helper()
	var kids []any
	for _, c := range children {
		k := map[string]any{"name": c.Name, "queueName": childQ, "data": c.Data}
		if c.Opts != nil {
			k["opts"] = c.Opts
		}
		kids = append(kids, k)
	}
	p := startPeer(e.ctx, e.t, "flow", e.args(parentQ, map[string]any{"flow": map[string]any{
		"name": "parent", "queueName": parentQ, "data": parentData, "children": kids,
	}}))
	m := p.waitType("flow", 20*time.Second)
	p.collect(10 * time.Second)
	if len(m.Children) != len(children) {
		e.t.Fatalf("flow: %d child ids, want %d", len(m.Children), len(children))
	}
	return m.ID, m.Children
}

// nodeChildrenView is the inspect line of a flow parent (children option).
type nodeChildrenView struct {
	State           string                     `json:"state"`
	Job             *nodeJob                   `json:"job"`
	ChildrenValues  map[string]json.RawMessage `json:"childrenValues"`
	IgnoredFailures map[string]string          `json:"ignoredFailures"`
}

func (e *env) nodeParentView(name, id string) nodeChildrenView {
	e.t.Helper()
	jobs, _ := e.nodeInspect(name, []string{id}, map[string]any{"children": true})
	m, ok := jobs[id]
	if !ok {
		e.t.Fatalf("inspect: no line for %s", id)
	}
	var v nodeChildrenView
	if err := json.Unmarshal(m.Raw, &v); err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *env) zscoreExists(name, suffix, member string) bool {
	e.t.Helper()
	_, err := e.c.ZScore(e.ctx, e.key(name, suffix), member).Result()
	return err == nil
}

func (e *env) inList(name, suffix, member string) bool {
	e.t.Helper()
	xs, err := e.c.LRange(e.ctx, e.key(name, suffix), 0, -1).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, x := range xs {
		if x == member {
			return true
		}
	}
	return false
}

// parentReleased finds the `waiting` prev=`waiting-children` event of id.
func (e *env) parentReleased(name, id string) bool {
	e.t.Helper()
	for _, x := range e.streamEntries(name) {
		if x.Values["event"] == "waiting" && x.Values["jobId"] == id && x.Values["prev"] == "waiting-children" {
			return true
		}
	}
	return false
}

// Checklist 29: a Node flow (parent waiting for two children on another
// queue) run entirely by Go workers; Node reads the children's Go values.
func TestInterop29_FlowGoWorkers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	parentQ, childQ := e.queueName("f29p"), e.queueName("f29c")
	parent, kids := e.nodeFlow(parentQ, childQ, map[string]any{"return": "parent done"}, []nodeJobSpec{
		{Name: "c1", Data: map[string]any{"return": map[string]any{"n": 1, "s": "one"}}},
		{Name: "c2", Data: map[string]any{"return": []any{2, "two"}}},
	})
	if !e.zscoreExists(parentQ, "waiting-children", parent) {
		t.Fatalf("parent %s not in waiting-children", parent)
	}
	_, cr := e.goWorker(childQ, nil, nil)
	cr.waitFinals(t, 2, 15*time.Second)
	if _, evs, _ := cr.snapshot(); len(evs) > 0 {
		for _, ev := range evs {
			if ev.Type != queue.EventActive && ev.Type != queue.EventCompleted {
				t.Fatalf("child worker event %s %s: %v", ev.Type, ev.JobID, ev.Err)
			}
		}
	}
	waitUntil(t, 5*time.Second, "parent released into wait", func() (bool, error) {
		return e.inList(parentQ, "wait", parent), nil
	})
	if e.zscoreExists(parentQ, "waiting-children", parent) {
		t.Fatal("parent still in waiting-children")
	}
	if !e.parentReleased(parentQ, parent) {
		t.Fatalf("no waiting prev=waiting-children event for %s on the parent queue", parent)
	}
	if n, _ := e.c.Exists(e.ctx, e.key(parentQ, parent+":dependencies")).Result(); n != 0 {
		t.Fatal("parent dependencies set not empty")
	}

	_, pr := e.goWorker(parentQ, nil, nil)
	pr.waitFinals(t, 1, 15*time.Second)
	pr.waitStarted(t, parent, time.Second) // the handler ran
	if st, err := e.goQueue(parentQ).GetState(e.ctx, parent); err != nil || st != queue.StateCompleted {
		t.Fatalf("parent state %s (%v), want completed", st, err)
	}

	v := e.nodeParentView(parentQ, parent)
	if v.State != "completed" || v.Job == nil || string(v.Job.ReturnValue) != `"parent done"` {
		t.Fatalf("Node view of the parent: state %s, job %+v", v.State, v.Job)
	}
	want := map[string]string{
		e.key(childQ, kids[0]): `{"n":1,"s":"one"}`,
		e.key(childQ, kids[1]): `[2,"two"]`,
	}
	if len(v.ChildrenValues) != len(want) {
		t.Fatalf("getChildrenValues = %s, want keys %v", mustJSON(t, v.ChildrenValues), want)
	}
	for k, w := range want {
		if got, ok := v.ChildrenValues[k]; !ok || !jsonEqual(got, []byte(w)) {
			t.Fatalf("getChildrenValues[%s] = %s, want %s (all: %s)", k, got, w, mustJSON(t, v.ChildrenValues))
		}
	}
}

// holdUntil keeps jobs named name active until release is closed.
func holdUntil(name string, release <-chan struct{}) func(context.Context, *queue.Job) {
	return func(ctx context.Context, j *queue.Job) {
		if j.Name != name {
			return
		}
		select {
		case <-release:
		case <-ctx.Done():
		}
	}
}

// Checklist 30: child failure policies run by Go workers on a Node flow.
func TestInterop30_FlowChildFailure(t *testing.T) {
	t.Parallel()
	t.Run("failParentOnFailure", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		parentQ, childQ := e.queueName("f30p"), e.queueName("f30c")
		parent, kids := e.nodeFlow(parentQ, childQ, map[string]any{"return": "must not run"}, []nodeJobSpec{
			{Name: "bad", Data: map[string]any{"fail": "child boom"}, Opts: map[string]any{"failParentOnFailure": true}},
			{Name: "slow", Data: map[string]any{"return": 1}},
		})
		bad, slow := e.key(childQ, kids[0]), e.key(childQ, kids[1])
		release := make(chan struct{})
		released := false
		defer func() {
			if !released {
				close(release)
			}
		}()
		_, cr := e.goWorker(childQ, &queue.WorkerOptions{Concurrency: 2}, holdUntil("slow", release))
		cr.waitFinals(t, 1, 15*time.Second) // the failing child; "slow" is held
		cr.mu.Lock()
		outcome := cr.finalIDs[kids[0]]
		cr.mu.Unlock()
		if outcome != string(queue.EventFailed) {
			t.Fatalf("child %s outcome %q, want failed", kids[0], outcome)
		}
		// Released at once, though "slow" is still a dependency.
		waitUntil(t, 5*time.Second, "parent released into wait", func() (bool, error) {
			return e.inList(parentQ, "wait", parent), nil
		})
		if e.zscoreExists(parentQ, "waiting-children", parent) || !e.parentReleased(parentQ, parent) {
			t.Fatal("parent not moved out of waiting-children with a waiting prev=waiting-children event")
		}
		if defa, err := e.c.HGet(e.ctx, e.key(parentQ, parent), "defa").Result(); err != nil || defa != "child "+bad+" failed" {
			t.Fatalf("parent defa = %q (%v), want %q", defa, err, "child "+bad+" failed")
		}
		if ok, _ := e.c.SIsMember(e.ctx, e.key(parentQ, parent+":dependencies"), slow).Result(); !ok {
			t.Fatal("pending sibling no longer a dependency")
		}
		if !e.zscoreExists(parentQ, parent+":unsuccessful", bad) {
			t.Fatalf("failed child not recorded in %s:unsuccessful", parent)
		}
		close(release)
		released = true
		cr.waitFinals(t, 2, 10*time.Second)

		_, pr := e.goWorker(parentQ, nil, nil)
		pr.waitFinals(t, 1, 15*time.Second)
		_, pevs, _ := pr.snapshot()
		var failed *queue.WorkerEvent
		for i := range pevs {
			if pevs[i].Type == queue.EventFailed && pevs[i].JobID == parent {
				failed = &pevs[i]
			}
		}
		if failed == nil {
			t.Fatalf("parent %s did not fail on the Go worker: %+v", parent, pevs)
		}
		if st, _, _ := pr.snapshot(); len(st) != 0 {
			t.Fatalf("the Go handler ran for %v; a deferred failure must not run it", st)
		}
		v := e.nodeParentView(parentQ, parent)
		if v.State != "failed" || v.Job == nil || v.Job.FailedReason != "child "+bad+" failed" {
			t.Fatalf("Node view of the parent: state %s, job %+v", v.State, v.Job)
		}
		if n, _ := e.c.HExists(e.ctx, e.key(parentQ, parent), "defa").Result(); n {
			t.Fatal("defa still set on the failed parent")
		}
	})

	t.Run("ignoreDependencyOnFailure", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		parentQ, childQ := e.queueName("f30ip"), e.queueName("f30ic")
		parent, kids := e.nodeFlow(parentQ, childQ, map[string]any{"return": "parent ran"}, []nodeJobSpec{
			{Name: "bad", Data: map[string]any{"fail": "ignored boom"}, Opts: map[string]any{"ignoreDependencyOnFailure": true}},
			{Name: "slow", Data: map[string]any{"return": "kept"}},
		})
		bad, slow := e.key(childQ, kids[0]), e.key(childQ, kids[1])
		release := make(chan struct{})
		released := false
		defer func() {
			if !released {
				close(release)
			}
		}()
		_, cr := e.goWorker(childQ, &queue.WorkerOptions{Concurrency: 2}, holdUntil("slow", release))
		cr.waitFinals(t, 1, 15*time.Second)
		waitUntil(t, 5*time.Second, "failure recorded in the parent's :failed", func() (bool, error) {
			v, err := e.c.HGet(e.ctx, e.key(parentQ, parent+":failed"), bad).Result()
			return err == nil && v == "ignored boom", nil
		})
		// A dependency (slow) remains: the parent keeps waiting.
		holdsFor(t, 500*time.Millisecond, "parent waiting for its remaining child", func() bool {
			return e.zscoreExists(parentQ, "waiting-children", parent) && !e.inList(parentQ, "wait", parent)
		})
		if _, err := e.c.HGet(e.ctx, e.key(parentQ, parent), "defa").Result(); err == nil {
			t.Fatal("ignoreDependencyOnFailure set defa on the parent")
		}
		close(release)
		released = true
		cr.waitFinals(t, 2, 10*time.Second)
		waitUntil(t, 5*time.Second, "parent released once no dependency remains", func() (bool, error) {
			return e.inList(parentQ, "wait", parent), nil
		})
		if !e.parentReleased(parentQ, parent) {
			t.Fatal("no waiting prev=waiting-children event for the parent")
		}

		_, pr := e.goWorker(parentQ, nil, nil)
		pr.waitFinals(t, 1, 15*time.Second)
		pr.waitStarted(t, parent, time.Second)
		v := e.nodeParentView(parentQ, parent)
		if v.State != "completed" || v.Job == nil || string(v.Job.ReturnValue) != `"parent ran"` {
			t.Fatalf("Node view of the parent: state %s, job %+v", v.State, v.Job)
		}
		if len(v.IgnoredFailures) != 1 || v.IgnoredFailures[bad] != "ignored boom" {
			t.Fatalf("getIgnoredChildrenFailures = %v, want {%s: ignored boom}", v.IgnoredFailures, bad)
		}
		if len(v.ChildrenValues) != 1 || !jsonEqual(v.ChildrenValues[slow], []byte(`"kept"`)) {
			t.Fatalf("getChildrenValues = %s, want {%s: \"kept\"}", mustJSON(t, v.ChildrenValues), slow)
		}
	})
}
