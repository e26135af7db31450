package interop

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// goEvents opens a Go QueueEvents on name from last and subscribes.
func (e *env) goEvents(name, last string) (*queue.QueueEvents, *queue.Subscription) {
	e.t.Helper()
	qe, err := queue.NewQueueEvents(e.ctx, e.c, name, &queue.QueueEventsOptions{Prefix: e.prefix, LastEventID: last,
		BlockTimeout: 500 * time.Millisecond, RetryDelay: 50 * time.Millisecond})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := qe.Close(ctx); err != nil {
			e.t.Error(err)
		}
	})
	sub, err := qe.Subscribe(10000)
	if err != nil {
		e.t.Fatal(err)
	}
	return qe, sub
}

func recvEvents(t *testing.T, sub *queue.Subscription, n int) []queue.Event {
	t.Helper()
	var out []queue.Event
	deadline := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				t.Fatalf("subscription closed after %d of %d events", len(out), n)
			}
			out = append(out, ev)
		case <-deadline:
			t.Fatalf("Go QueueEvents delivered %d of %d events", len(out), n)
		}
	}
	return out
}

// sameAsNode fails unless Go's events are Node's, one for one: name,
// stream id, and the listener arguments (decoded values included).
func sameAsNode(t *testing.T, who string, node []msg, got []queue.Event) {
	t.Helper()
	if len(got) != len(node) {
		t.Fatalf("%s: %d events, Node %d", who, len(got), len(node))
	}
	for i, n := range node {
		g := got[i]
		ga, _ := json.Marshal(g.Args())
		na, _ := json.Marshal(n.Args)
		if g.Name != n.Event || g.StreamID != n.StreamID || !jsonEqual(ga, na) {
			t.Fatalf("%s: event %d is %s %s %s; Node: %s %s %s", who, i, g.StreamID, g.Name, ga, n.StreamID, n.Event, na)
		}
		// The typed fields agree with Node's arguments.
		if id, _ := n.Args["jobId"].(string); g.JobID != id {
			t.Fatalf("%s: event %d JobID %q, Node jobId %q", who, i, g.JobID, id)
		}
		switch g.Name {
		case queue.StreamCompleted:
			rv, _ := json.Marshal(n.Args["returnvalue"])
			if !jsonEqual(g.ReturnValue, rv) {
				t.Fatalf("%s: event %d ReturnValue %s, Node %s", who, i, g.ReturnValue, rv)
			}
		case queue.StreamProgress:
			d, _ := json.Marshal(n.Args["data"])
			if !jsonEqual(g.Data, d) {
				t.Fatalf("%s: event %d Data %s, Node %s", who, i, g.Data, d)
			}
		case queue.StreamFailed:
			if g.FailedReason != n.Args["failedReason"] {
				t.Fatalf("%s: event %d FailedReason %q, Node %v", who, i, g.FailedReason, n.Args["failedReason"])
			}
		case queue.StreamDelayed:
			if d, _ := n.Args["delay"].(float64); g.Delay != int64(d) || g.Delay == 0 {
				t.Fatalf("%s: event %d Delay %d, Node %v", who, i, g.Delay, n.Args["delay"])
			}
		}
	}
}

// Node adds, pauses, removes, resumes and works a mix of jobs; a Go
// QueueEvents following live ("$" before anything happened) and one
// reading the history ("0") both see exactly what Node's QueueEvents sees.
func TestInteropQueueEvents_NodeProducesGoFollows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("ev")
	_, live := e.goEvents(name, "$")

	e.nodeAdmin(name, "pause")
	e.nodeAdd(name, []nodeJobSpec{
		{Name: "ok", Data: map[string]any{"return": map[string]any{"x": 1}, "progress": map[string]any{"p": 50}, "log": "l"}},
		{Name: "bad", Data: map[string]any{"fail": "boom"}, Opts: map[string]any{"attempts": 1}},
		{Name: "retry", Data: map[string]any{"fail": "again", "failTimes": 1}, Opts: map[string]any{"attempts": 2}},
		{Name: "later", Data: map[string]any{"return": "late"}, Opts: map[string]any{"delay": 300}},
		{Name: "dup", Data: map[string]any{}, Opts: map[string]any{"jobId": "dup1"}},
		{Name: "dup", Data: map[string]any{}, Opts: map[string]any{"jobId": "dup1"}},
		{Name: "dd", Data: map[string]any{"return": []any{1, "two"}}, Opts: map[string]any{"deduplication": map[string]any{"id": "d1"}}},
		{Name: "dd", Data: map[string]any{}, Opts: map[string]any{"deduplication": map[string]any{"id": "d1"}}},
		{Name: "prio", Data: map[string]any{"return": 7}, Opts: map[string]any{"priority": 3}},
	})
	p := startPeer(e.ctx, e.t, "admin", e.args(name, map[string]any{"ops": []map[string]any{
		{"op": "remove", "args": []any{"dup1"}}, {"op": "resume"}}}))
	p.collect(30*time.Second, "op")
	e.nodeProcess(name, 6, nil)

	node := e.readAllEvents(name)
	sameAsNode(t, "live", node, recvEvents(t, live, len(node)))
	_, hist := e.goEvents(name, "0")
	sameAsNode(t, "from 0", node, recvEvents(t, hist, len(node)))

	seen := map[string]bool{}
	for _, n := range node {
		seen[n.Event] = true
	}
	var missing []string
	for _, want := range []string{queue.StreamAdded, queue.StreamWaiting, queue.StreamActive, queue.StreamProgress,
		queue.StreamCompleted, queue.StreamFailed, queue.StreamDelayed, queue.StreamRemoved, queue.StreamDrained,
		queue.StreamDuplicated, queue.StreamDeduplicated, queue.StreamRetriesExhausted, queue.StreamPaused,
		queue.StreamResumed} {
		if !seen[want] {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		keys := make([]string, 0, len(seen))
		for k := range seen {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Fatalf("the scenario did not produce %v (saw %v)", missing, keys)
	}
}

// Go adds jobs and waits for them with Job.WaitUntilFinished while a Node
// worker runs them; the answers equal Node's job.waitUntilFinished.
func TestInteropWaitUntilFinished_NodeWorks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("wuf")
	q := e.goQueue(name)
	qe, _ := e.goEvents(name, "$")
	ok, err := q.Add(e.ctx, "ok", map[string]any{"return": map[string]any{"v": []int{1, 2}}, "sleepMs": 200}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := q.Add(e.ctx, "bad", map[string]any{"fail": "kaput"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		rv  json.RawMessage
		err error
	}
	answers := make(chan answer, 2)
	for _, j := range []*queue.Job{ok, bad} {
		go func() {
			ctx, cancel := context.WithTimeout(e.ctx, 60*time.Second)
			defer cancel()
			rv, err := j.WaitUntilFinished(ctx, qe)
			answers <- answer{rv, err}
		}()
	}
	e.nodeProcess(name, 2, nil)
	got := map[string]answer{}
	for range 2 {
		a := <-answers
		if a.err != nil && !errors.Is(a.err, queue.ErrJobFailed) {
			t.Fatalf("WaitUntilFinished: %v", a.err)
		}
		if a.err != nil {
			got["bad"] = a
		} else {
			got["ok"] = a
		}
	}
	// Node's view of the same jobs.
	fp := startPeer(e.ctx, e.t, "finished", e.args(name, map[string]any{"ids": []string{ok.ID, bad.ID}}))
	var nodeOK, nodeBad msg
	for _, m := range fp.collect(60*time.Second, "finished") {
		if m.ID == ok.ID {
			nodeOK = m
		} else {
			nodeBad = m
		}
	}
	if !jsonEqual(got["ok"].rv, nodeOK.Result) || string(got["ok"].rv) != `{"v":[1,2]}` {
		t.Fatalf("completed: Go %s, Node %s", got["ok"].rv, nodeOK.Result)
	}
	var fe *queue.JobFailedError
	if !errors.As(got["bad"].err, &fe) || fe.Reason != nodeBad.Reason || !strings.Contains(nodeBad.Reason, "kaput") {
		t.Fatalf("failed: Go %v, Node %q", got["bad"].err, nodeBad.Reason)
	}
}

// Go adds and a Go worker runs jobs (progress, failure, retry, result): a
// Go QueueEvents following live delivers exactly what Node's QueueEvents
// delivers for the same stream.
func TestInteropQueueEvents_GoWorksNodeAndGoFollow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("evgo")
	_, live := e.goEvents(name, "$")
	q := e.goQueue(name)
	adds := []struct {
		name string
		data map[string]any
		opts *queue.AddOptions
	}{
		{"ok", map[string]any{"return": map[string]any{"x": []any{1, "a\"b"}}, "progress": 42}, nil},
		{"bad", map[string]any{"fail": "line1\nline2"}, &queue.AddOptions{Attempts: 2}},
		{"later", map[string]any{"return": nil}, &queue.AddOptions{Delay: 200 * time.Millisecond}},
	}
	for _, a := range adds {
		if _, err := q.Add(e.ctx, a.name, a.data, a.opts); err != nil {
			t.Fatal(err)
		}
	}
	finals := make(chan struct{}, 10)
	w, err := queue.NewWorker(e.c, name, func(ctx context.Context, j *queue.Job) (any, error) {
		var d map[string]any
		_ = j.Unmarshal(&d)
		if p, ok := d["progress"]; ok {
			if err := j.UpdateProgress(ctx, p); err != nil {
				return nil, err
			}
		}
		if f, ok := d["fail"].(string); ok {
			return nil, errors.New(f)
		}
		return d["return"], nil
	}, &queue.WorkerOptions{Prefix: e.prefix, DrainDelay: 200 * time.Millisecond, OnEvent: func(ev queue.WorkerEvent) {
		if ev.Type == queue.EventCompleted || ev.Type == queue.EventFailed {
			finals <- struct{}{}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		select {
		case <-finals:
		case <-time.After(30 * time.Second):
			t.Fatal("the Go worker did not finish the jobs")
		}
	}
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	node := e.readAllEvents(name)
	sameAsNode(t, "live", node, recvEvents(t, live, len(node)))
	seen := map[string]bool{}
	for _, n := range node {
		seen[n.Event] = true
	}
	for _, want := range []string{queue.StreamProgress, queue.StreamCompleted, queue.StreamFailed, queue.StreamDelayed,
		queue.StreamRetriesExhausted, queue.StreamDrained} {
		if !seen[want] {
			t.Fatalf("no %s event in %v", want, seen)
		}
	}
}
