package interop

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// Producer-side deduplication, checklist 13–17: the same sequence of adds is
// run by a Go Queue on one queue and by a Node Queue on another; the stored
// state (returned ids, counter, hashes, de/dn keys, lists, scores, events)
// must be the same.

// dadd is one add of a sequence. ts is an offset from the sequence's base
// timestamp, so delayed scores are comparable.
type dadd struct {
	name  string
	ts    int64
	delay int64
	jobID string
	de    map[string]any
}

func (a dadd) data() map[string]any { return map[string]any{"n": a.name} }

func (a dadd) nodeSpec(base int64) nodeJobSpec {
	o := map[string]any{"timestamp": base + a.ts, "deduplication": a.de}
	if a.delay > 0 {
		o["delay"] = a.delay
	}
	if a.jobID != "" {
		o["jobId"] = a.jobID
	}
	return nodeJobSpec{Name: a.name, Data: a.data(), Opts: o}
}

func (a dadd) goOpts(t *testing.T, base int64) *queue.AddOptions {
	t.Helper()
	b, _ := json.Marshal(a.de)
	var d queue.Deduplication
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return &queue.AddOptions{Timestamp: time.UnixMilli(base + a.ts), Delay: time.Duration(a.delay) * time.Millisecond,
		JobID: a.jobID, Deduplication: &d}
}

func goAdds(t *testing.T, e *env, name string, base int64, adds []dadd) []string {
	t.Helper()
	q := e.goQueue(name)
	ids := make([]string, len(adds))
	for i, a := range adds {
		j, err := q.Add(e.ctx, a.name, a.data(), a.goOpts(t, base))
		if err != nil {
			t.Fatalf("Go add %d: %v", i, err)
		}
		ids[i] = j.ID
	}
	return ids
}

func nodeAdds(e *env, name string, base int64, adds []dadd) []string {
	specs := make([]nodeJobSpec, len(adds))
	for i, a := range adds {
		specs[i] = a.nodeSpec(base)
	}
	return e.nodeAdd(name, specs)
}

// dedupState is the comparable state of one queue after a sequence.
type dedupState struct {
	Counter string
	Jobs    map[string]map[string]string // hash minus opts, plus decoded opts re-encoded
	Wait    []string
	Delayed map[string]float64
	DeKeys  map[string]string // value + "/ttl" or "/nottl"
	Stash   map[string]string
	Events  []map[string]string
}

func snapshotDedup(t *testing.T, e *env, name string, ids []string, deIDs ...string) dedupState {
	t.Helper()
	s := dedupState{Jobs: map[string]map[string]string{}, DeKeys: map[string]string{}, Delayed: map[string]float64{}}
	s.Counter = e.c.Get(e.ctx, e.key(name, "id")).Val()
	seen := map[string]bool{}
	for _, x := range e.streamEntries(name) {
		ev := map[string]string{}
		for k, v := range x.Values {
			ev[k] = fmt.Sprint(v)
		}
		switch ev["event"] {
		case "added", "waiting", "delayed", "deduplicated", "removed", "duplicated", "debounced":
			s.Events = append(s.Events, ev)
		}
		if id := ev["jobId"]; id != "" {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		h := e.c.HGetAll(e.ctx, e.key(name, id)).Val()
		if len(h) == 0 {
			continue
		}
		var o any
		if err := json.Unmarshal([]byte(h["opts"]), &o); err != nil {
			t.Fatalf("job %s opts %q: %v", id, h["opts"], err)
		}
		ob, _ := json.Marshal(o)
		h["opts"] = string(ob)
		delete(h, "processedOn") // when a worker started it: not part of the add
		s.Jobs[id] = h
	}
	s.Wait = e.c.LRange(e.ctx, e.key(name, "wait"), 0, -1).Val()
	for _, z := range e.c.ZRangeWithScores(e.ctx, e.key(name, "delayed"), 0, -1).Val() {
		s.Delayed[z.Member.(string)] = z.Score
	}
	s.Stash = map[string]string{}
	for _, d := range deIDs {
		v, err := e.c.Get(e.ctx, e.key(name, "de:"+d)).Result()
		if err == nil {
			ttl := e.c.PTTL(e.ctx, e.key(name, "de:"+d)).Val()
			v += "/nottl"
			if ttl >= 0 {
				v = v[:len(v)-len("/nottl")] + "/ttl"
			}
		}
		s.DeKeys[d] = v
		for k, v := range e.c.HGetAll(e.ctx, e.key(name, "dn:"+d)).Val() {
			if k == "opts" {
				var o any
				_ = json.Unmarshal([]byte(v), &o)
				b, _ := json.Marshal(o)
				v = string(b)
			}
			s.Stash[d+"."+k] = v
		}
	}
	return s
}

// compareSeq runs adds on a Go and a Node queue and compares the states.
func compareSeq(t *testing.T, e *env, tag string, adds []dadd, deIDs ...string) (goName, nodeName string, goIDs []string, st dedupState) {
	t.Helper()
	base := time.Now().UnixMilli()
	goName, nodeName = e.queueName(tag+"g"), e.queueName(tag+"n")
	goIDs = goAdds(t, e, goName, base, adds)
	nodeIDs := nodeAdds(e, nodeName, base, adds)
	if !reflect.DeepEqual(goIDs, nodeIDs) {
		t.Fatalf("returned ids: Go %v, Node %v", goIDs, nodeIDs)
	}
	gs := snapshotDedup(t, e, goName, goIDs, deIDs...)
	ns := snapshotDedup(t, e, nodeName, nodeIDs, deIDs...)
	if !reflect.DeepEqual(gs, ns) {
		t.Fatalf("state differs:\nGo   %+v\nNode %+v", gs, ns)
	}
	for _, ev := range gs.Events {
		if ev["event"] == "debounced" {
			t.Fatal("debounced event written")
		}
	}
	return goName, nodeName, goIDs, gs
}

func countEv(evs []map[string]string, name string) int {
	n := 0
	for _, e := range evs {
		if e["event"] == name {
			n++
		}
	}
	return n
}

// Checklist 13: simple mode; a Node worker completing the Go-added owner
// deletes de:d.
func TestInterop13_DedupSimpleGoProducer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	de := map[string]any{"id": "d"}
	goName, _, ids, st := compareSeq(t, e, "d13", []dadd{{name: "a", de: de}, {name: "b", de: de}, {name: "c", jobID: "cust", de: de}}, "d")
	if ids[1] != ids[0] || ids[2] != ids[0] || st.DeKeys["d"] != ids[0]+"/nottl" || countEv(st.Events, "deduplicated") != 2 {
		t.Fatalf("ids %v state %+v", ids, st)
	}
	p := startPeer(e.ctx, t, "work", e.args(goName, map[string]any{"exitAfter": 1}))
	p.collect(30*time.Second, "completed")
	waitUntil(t, 10*time.Second, "de:d released", func() (bool, error) {
		return e.c.Exists(e.ctx, e.key(goName, "de:d")).Val() == 0, nil
	})
}

// Checklist 14: throttle with a ttl, then extend; after expiry a further
// add creates a new job on both sides. The ttl (15 s) outlasts starting the
// Node peer on a loaded machine (2 s did not: the Go side's key expired
// before the snapshot); expiry itself is forced with PEXPIRE.
func TestInterop14_DedupTTLGoProducer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	de := map[string]any{"id": "d", "ttl": 15000}
	goName, nodeName, ids, st := compareSeq(t, e, "d14", []dadd{{name: "a", de: de}, {name: "b", de: de}}, "d")
	if ids[1] != ids[0] || st.DeKeys["d"] != ids[0]+"/ttl" {
		t.Fatalf("ids %v state %+v", ids, st)
	}
	if ttl := e.c.PTTL(e.ctx, e.key(goName, "de:d")).Val(); ttl <= 0 || ttl > 15000*time.Millisecond {
		t.Fatalf("PTTL %v", ttl)
	}
	p := startPeer(e.ctx, t, "work", e.args(goName, map[string]any{"exitAfter": 1}))
	p.collect(30*time.Second, "completed")
	if got := e.c.Get(e.ctx, e.key(goName, "de:d")).Val(); got != ids[0] {
		t.Fatalf("de:d after completion = %q", got)
	}
	// expiry on both queues, then one more add each
	base := time.Now().UnixMilli()
	for _, n := range []string{goName, nodeName} {
		e.c.PExpire(e.ctx, e.key(n, "de:d"), time.Millisecond)
	}
	waitUntil(t, 5*time.Second, "de:d expiry", func() (bool, error) {
		return e.c.Exists(e.ctx, e.key(goName, "de:d"), e.key(nodeName, "de:d")).Val() == 0, nil
	})
	next := []dadd{{name: "c", de: de}}
	g := goAdds(t, e, goName, base, next)
	n := nodeAdds(e, nodeName, base, next)
	if g[0] != n[0] || g[0] == ids[0] || e.c.Exists(e.ctx, e.key(goName, g[0])).Val() != 1 {
		t.Fatalf("after expiry: Go %v Node %v (owner was %s)", g, n, ids[0])
	}

	ext := map[string]any{"id": "x", "ttl": 30000, "extend": true} // long enough to outlive a loaded machine between add and snapshot
	_, _, ids, st = compareSeq(t, e, "d14x", []dadd{{name: "a", de: ext}, {name: "b", de: ext}}, "x")
	if ids[1] != ids[0] || st.DeKeys["x"] != ids[0]+"/ttl" || countEv(st.Events, "deduplicated") != 1 {
		t.Fatalf("extend: ids %v state %+v", ids, st)
	}
}

// Checklist 15: replace a delayed owner (with and without ttl), and an
// owner no longer delayed.
func TestInterop15_DedupReplaceGoProducer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i, de := range []map[string]any{{"id": "d", "replace": true}, {"id": "d", "replace": true, "ttl": 60000}} {
		_, _, ids, st := compareSeq(t, e, "d15"+strconv.Itoa(i), []dadd{
			{name: "a", delay: 5000, de: de}, {name: "b", delay: 5000, de: de}, {name: "c", delay: 7000, de: de}}, "d")
		if ids[1] == ids[0] || ids[2] == ids[1] || len(st.Jobs) != 1 || st.Jobs[ids[2]] == nil ||
			countEv(st.Events, "removed") != 2 {
			t.Fatalf("replace %v: ids %v state %+v", de, ids, st)
		}
	}
	de := map[string]any{"id": "d", "replace": true}
	_, _, ids, st := compareSeq(t, e, "d15w", []dadd{{name: "a", de: de}, {name: "b", delay: 5000, de: de}}, "d")
	if ids[1] != ids[0] || len(st.Jobs) != 1 {
		t.Fatalf("replace of a waiting owner: ids %v state %+v", ids, st)
	}
}

// Checklist 16: reschedule a delayed owner.
func TestInterop16_DedupRescheduleGoProducer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	de := map[string]any{"id": "d", "reschedule": true}
	_, _, ids, st := compareSeq(t, e, "d16", []dadd{
		{name: "a", delay: 5000, de: de}, {name: "b", ts: 1000, delay: 8000, de: de}, {name: "c", ts: 1500, de: de}}, "d")
	if ids[1] != ids[0] || ids[2] != ids[0] || len(st.Jobs) != 1 || st.Jobs[ids[0]]["delay"] != "0" ||
		countEv(st.Events, "delayed") != 3 {
		t.Fatalf("ids %v state %+v", ids, st)
	}
}

// Checklist 17 with a Go producer: while a Node worker runs the owner, Go
// adds with keepLastIfActive are stashed exactly as Node's would be; when
// the Node worker completes the owner the last stash becomes a (delayed) job.
func TestInterop17_DedupKeepLastIfActiveGoProducer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	de := map[string]any{"id": "d", "keepLastIfActive": true, "ttl": 60000}
	base := time.Now().UnixMilli()
	goName, nodeName := e.queueName("d17g"), e.queueName("d17n")
	var owners []string
	var peers []*peer
	for _, n := range []string{goName, nodeName} {
		q := e.goQueue(n)
		// The owner runs long enough (10 s) to still be active after the
		// second peer has started on a loaded machine (3 s was not).
		j, err := q.Add(e.ctx, "owner", map[string]any{"sleepMs": 10000}, dadd{de: de}.goOpts(t, base))
		if err != nil {
			t.Fatal(err)
		}
		p := startPeer(e.ctx, t, "work", e.args(n, map[string]any{"exitAfter": 1}))
		p.waitType("started", 20*time.Second)
		owners = append(owners, j.ID)
		peers = append(peers, p)
	}
	// delayed, so the Node worker cannot start (and finish) the stashed job
	adds := []dadd{{name: "s1", ts: 10, de: de}, {name: "s2", ts: 20, delay: 60000, jobID: "last", de: de}}
	g := goAdds(t, e, goName, base, adds)
	n := nodeAdds(e, nodeName, base, adds)
	gs := snapshotDedup(t, e, goName, g, "d")
	ns := snapshotDedup(t, e, nodeName, n, "d")
	if !reflect.DeepEqual(g, n) || !reflect.DeepEqual(gs, ns) {
		t.Fatalf("stash state differs:\nGo   %v %+v\nNode %v %+v", g, gs, n, ns)
	}
	if g[0] != owners[0] || gs.Stash["d.jid"] != "last" || gs.DeKeys["d"] != owners[0]+"/nottl" {
		t.Fatalf("ids %v state %+v", g, gs)
	}
	for i, nm := range []string{goName, nodeName} {
		peers[i].collect(40*time.Second, "completed")
		waitUntil(t, 10*time.Second, "stashed job created on "+nm, func() (bool, error) {
			return e.c.Exists(e.ctx, e.key(nm, "last")).Val() == 1, nil
		})
		if v := e.c.Get(e.ctx, e.key(nm, "de:d")).Val(); v != "last" || e.c.Exists(e.ctx, e.key(nm, "dn:d")).Val() != 0 ||
			e.c.ZScore(e.ctx, e.key(nm, "delayed"), "last").Err() != nil {
			t.Fatalf("%s: de:d %q after the owner completed", nm, v)
		}
	}
}
