package interop

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// Go's AddBulk (several jobs per addJobs script call, in chunks of at most
// 100) leaves the state Node's addBulk leaves for the same 230 jobs: plain,
// prioritized, delayed, LIFO, and custom ids, one of them repeated (the
// repeat is answered with the existing id and a `duplicated` event).
func TestInteropAddBulk_SameAsNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	goName, refName := e.queueName("bg"), e.queueName("bref")
	var specs []nodeJobSpec
	var bulk []queue.BulkJob
	for i := range 230 {
		data := map[string]any{"i": i}
		o, no := &queue.AddOptions{}, map[string]any{}
		switch {
		case i == 40 || i == 150:
			o.JobID, no["jobId"] = "same", "same"
		case i%7 == 0:
			o.Delay, no["delay"] = time.Hour, 3_600_000
		case i%5 == 0:
			o.Priority, no["priority"] = i%3+1, i%3+1
		case i%11 == 0:
			o.LIFO, no["lifo"] = true, true
		}
		specs = append(specs, nodeJobSpec{Name: "b", Data: data, Opts: no})
		bulk = append(bulk, queue.BulkJob{Name: "b", Data: data, Opts: o})
	}
	refIDs := e.nodeAddBulk(refName, specs)
	jobs, err := e.goQueue(goName).AddBulk(e.ctx, bulk)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
		if j.ID != refIDs[i] {
			t.Fatalf("job %d: Go id %s, Node id %s", i, j.ID, refIDs[i])
		}
	}
	if got, want := e.queueState(goName, nil, 0), e.queueState(refName, nil, 0); got != want {
		t.Fatalf("lists and events after AddBulk\nGo:\n%s\nNode:\n%s", got, want)
	}
	for i, id := range ids {
		g, n := e.c.HGetAll(e.ctx, e.key(goName, id)).Val(), e.c.HGetAll(e.ctx, e.key(refName, id)).Val()
		for _, h := range []map[string]string{g, n} {
			delete(h, "timestamp")
			var o map[string]any // same options; Node orders the keys as given
			if err := json.Unmarshal([]byte(h["opts"]), &o); err != nil {
				t.Fatalf("job %s opts %q: %v", id, h["opts"], err)
			}
			b, _ := json.Marshal(o)
			h["opts"] = string(b)
		}
		if !reflect.DeepEqual(g, n) {
			t.Fatalf("job %d (%s): Go %v, Node %v", i, id, g, n)
		}
	}
}

// nodeAddBulk adds jobs with Node's queue.addBulk and returns their ids.
func (e *env) nodeAddBulk(name string, jobs []nodeJobSpec) []string {
	e.t.Helper()
	p := startPeer(e.ctx, e.t, "add", e.args(name, map[string]any{"jobs": jobs, "bulk": true}))
	ids := make([]string, len(jobs))
	for _, m := range p.collect(30*time.Second, "added") {
		ids[m.Index] = m.ID
	}
	return ids
}
