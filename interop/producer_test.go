package interop

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// Checklist 1: meta written by a Node Queue, kept by Go adds; a Go add on a
// queue without meta writes opts.maxLenEvents only.
func TestInterop01_Meta(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("n")
	e.nodeAdd(name, nil) // constructs a Node Queue, which writes meta
	meta := e.c.HGetAll(e.ctx, e.key(name, "meta")).Val()
	if meta["opts.maxLenEvents"] != "10000" || meta["version"] != "bullmq:6.7.0" {
		t.Fatalf("meta after Node Queue = %v", meta)
	}
	q := e.goQueue(name)
	for i := 0; i < 3; i++ {
		if _, err := q.Add(e.ctx, "x", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if after := e.c.HGetAll(e.ctx, e.key(name, "meta")).Val(); !reflect.DeepEqual(after, meta) {
		t.Fatalf("Go adds changed meta: %v -> %v", meta, after)
	}

	fresh := e.queueName("g")
	if _, err := e.goQueue(fresh).Add(e.ctx, "x", nil, nil); err != nil {
		t.Fatal(err)
	}
	got := e.c.HGetAll(e.ctx, e.key(fresh, "meta")).Val()
	if !reflect.DeepEqual(got, map[string]string{"opts.maxLenEvents": "10000"}) {
		t.Fatalf("meta after a Go add on a fresh queue = %v", got)
	}
	// Node reads it: maxLenEvents 10000, no version, not paused.
	_, nq := e.nodeInspect(fresh, nil, nil)
	if nq.Meta["maxLenEvents"] != 10000.0 || nq.Paused || nq.Version != "" {
		t.Fatalf("Node getMeta on a Go-created queue = %v (paused %v, version %q)", nq.Meta, nq.Paused, nq.Version)
	}
}

// Checklist 2: a Go add with no options, read back by Node.
func TestInterop02_GoAddNoOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("")
	q := e.goQueue(name)
	data := json.RawMessage(`{"s":"é/<>&","n":[1,2.5,null],"o":{"b":true}}`)
	job, err := q.Add(e.ctx, "hello", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if job.ID != "1" || e.c.Get(e.ctx, e.key(name, "id")).Val() != "1" {
		t.Fatalf("id %q, counter %q", job.ID, e.c.Get(e.ctx, e.key(name, "id")).Val())
	}
	h := e.c.HGetAll(e.ctx, e.key(name, "1")).Val()
	if got := sortedKeysOf(h); !reflect.DeepEqual(got, []string{"data", "delay", "name", "opts", "priority", "timestamp"}) {
		t.Fatalf("hash fields = %v", got)
	}
	if h["delay"] != "0" || h["priority"] != "0" || h["name"] != "hello" || h["data"] != string(data) {
		t.Fatalf("hash = %v", h)
	}
	if !jsonEqual([]byte(h["opts"]), []byte(`{"attempts":0}`)) {
		t.Fatalf("opts = %s", h["opts"])
	}
	if w := e.c.LRange(e.ctx, e.key(name, "wait"), 0, -1).Val(); !reflect.DeepEqual(w, []string{"1"}) {
		t.Fatalf("wait = %v", w)
	}
	if s, err := e.c.ZScore(e.ctx, e.key(name, "marker"), "0").Result(); err != nil || s != 0 {
		t.Fatalf("marker 0 = %v, %v", s, err)
	}
	ev := e.streamEntries(name)
	if len(ev) != 2 || ev[0].Values["event"] != "added" || ev[0].Values["jobId"] != "1" || ev[0].Values["name"] != "hello" ||
		ev[1].Values["event"] != "waiting" || ev[1].Values["jobId"] != "1" {
		t.Fatalf("events = %v", ev)
	}
	jobs, _ := e.nodeInspect(name, []string{"1"}, nil)
	nj := jobs["1"]
	if nj.State != "waiting" || nj.Job == nil || nj.Job.Name != "hello" || !jsonEqual(nj.Job.Data, data) {
		t.Fatalf("Node sees %s", nj.Raw)
	}
	if ts, _ := strconv.ParseInt(h["timestamp"], 10, 64); nj.Job.Timestamp != ts {
		t.Fatalf("Node timestamp %d, hash %d", nj.Job.Timestamp, ts)
	}
}

// sameAdd is one add expressed for both sides.
type sameAdd struct {
	label string
	data  string // JSON text, identical on both sides
	node  map[string]any
	goOpt *queue.AddOptions
}

func sameAdds() []sameAdd {
	ts := time.UnixMilli(1700000000123)
	return []sameAdd{
		{"plain", `{"a":1}`, nil, nil},
		{"delayed", `{"b":"x"}`, map[string]any{"delay": 5000}, &queue.AddOptions{Delay: 5 * time.Second}},
		{"priority", `{}`, map[string]any{"priority": 7}, &queue.AddOptions{Priority: 7}},
		{"attempts-exp", `{"c":[1,2]}`, map[string]any{"attempts": 3, "backoff": map[string]any{"type": "exponential", "delay": 1000}},
			&queue.AddOptions{Attempts: 3, Backoff: &queue.Backoff{Type: "exponential", Delay: time.Second}}},
		{"attempts-fixed-jitter", `{}`, map[string]any{"attempts": 2, "backoff": map[string]any{"type": "fixed", "delay": 250, "jitter": 0.5}},
			&queue.AddOptions{Attempts: 2, Backoff: &queue.Backoff{Type: "fixed", Delay: 250 * time.Millisecond, Jitter: 0.5}}},
		{"custom-id", `{"u":"é/<>&\"\\","z":-0.5}`, map[string]any{"jobId": "order:42:x"}, &queue.AddOptions{JobID: "order:42:x"}},
		{"lifo", `{}`, map[string]any{"lifo": true}, &queue.AddOptions{LIFO: true}},
		{"roc-count", `{}`, map[string]any{"removeOnComplete": 10}, &queue.AddOptions{RemoveOnComplete: queue.KeepLast(10)}},
		{"roc-true", `{}`, map[string]any{"removeOnComplete": true}, &queue.AddOptions{RemoveOnComplete: queue.RemoveAll()}},
		{"roc-false", `{}`, map[string]any{"removeOnComplete": false}, &queue.AddOptions{RemoveOnComplete: queue.KeepAll()}},
		{"rof-object", `{}`, map[string]any{"removeOnFail": map[string]any{"age": 3600, "count": 5}},
			&queue.AddOptions{RemoveOnFail: queue.KeepFor(time.Hour, 5)}},
		{"keeplogs", `{}`, map[string]any{"keepLogs": 2}, &queue.AddOptions{KeepLogs: 2}},
		{"stacktrace", `{}`, map[string]any{"stackTraceLimit": 3}, &queue.AddOptions{StackTraceLimit: 3}},
		{"timestamp-delay", `{}`, map[string]any{"timestamp": ts.UnixMilli(), "delay": 100},
			&queue.AddOptions{Timestamp: ts, Delay: 100 * time.Millisecond}},
	}
}

// Checklist 3 (write side): for the same add, the job hash written by Go
// equals the one written by Node field by field (timestamp aside, opts as
// decoded JSON), and so do the queue structures the add touched.
func TestInterop03_SameHashGoAndNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	adds := sameAdds()
	goName, nodeName := e.queueName("g"), e.queueName("n")
	q := e.goQueue(goName)
	var specs []nodeJobSpec
	var goIDs []string
	for _, a := range adds {
		j, err := q.Add(e.ctx, a.label, json.RawMessage(a.data), a.goOpt)
		if err != nil {
			t.Fatalf("%s: %v", a.label, err)
		}
		goIDs = append(goIDs, j.ID)
		specs = append(specs, nodeJobSpec{Name: a.label, Data: json.RawMessage(a.data), Opts: a.node})
	}
	nodeIDs := e.nodeAdd(nodeName, specs)
	if !reflect.DeepEqual(goIDs, nodeIDs) {
		t.Fatalf("ids: Go %v, Node %v", goIDs, nodeIDs)
	}
	for i, a := range adds {
		gh := e.c.HGetAll(e.ctx, e.key(goName, goIDs[i])).Val()
		nh := e.c.HGetAll(e.ctx, e.key(nodeName, nodeIDs[i])).Val()
		if !reflect.DeepEqual(sortedKeysOf(gh), sortedKeysOf(nh)) {
			t.Errorf("%s: fields Go %v, Node %v", a.label, sortedKeysOf(gh), sortedKeysOf(nh))
			continue
		}
		for f, nv := range nh {
			gv := gh[f]
			switch f {
			case "timestamp":
				if a.goOpt != nil && !a.goOpt.Timestamp.IsZero() && gv != nv {
					t.Errorf("%s: explicit timestamp Go %s, Node %s", a.label, gv, nv)
				}
			case "opts":
				if !jsonEqual([]byte(gv), []byte(nv)) {
					t.Errorf("%s: opts Go %s, Node %s", a.label, gv, nv)
				}
			default:
				if gv != nv {
					t.Errorf("%s: field %s Go %q, Node %q", a.label, f, gv, nv)
				}
			}
		}
	}
	// The structures: same members in wait (same order), prioritized and
	// delayed (scores compared modulo the timestamps), same counters.
	lw := func(n string) []string { return e.c.LRange(e.ctx, e.key(n, "wait"), 0, -1).Val() }
	if g, n := lw(goName), lw(nodeName); !reflect.DeepEqual(g, n) {
		t.Errorf("wait: Go %v, Node %v", g, n)
	}
	zm := func(n, s string) []string { return e.c.ZRange(e.ctx, e.key(n, s), 0, -1).Val() }
	for _, s := range []string{"prioritized", "delayed", "marker"} {
		if g, n := zm(goName, s), zm(nodeName, s); !reflect.DeepEqual(g, n) {
			t.Errorf("%s: Go %v, Node %v", s, g, n)
		}
	}
	for _, s := range []string{"id", "pc"} {
		if g, n := e.c.Get(e.ctx, e.key(goName, s)).Val(), e.c.Get(e.ctx, e.key(nodeName, s)).Val(); g != n {
			t.Errorf("%s: Go %q, Node %q", s, g, n)
		}
	}
	// Events: same sequence of (event, jobId, name, delay-is-present).
	evs := func(n string) []string {
		var out []string
		for _, x := range e.streamEntries(n) {
			out = append(out, eventShape(x.Values))
		}
		return out
	}
	if g, n := evs(goName), evs(nodeName); !reflect.DeepEqual(g, n) {
		t.Errorf("events:\nGo   %v\nNode %v", g, n)
	}
}

// eventShape renders an event entry without its time-dependent values.
func eventShape(v map[string]any) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		s, _ := v[k].(string)
		switch k {
		case "delay", "timestamp":
			s = "<t>"
		}
		b.WriteString(k + "=" + s + ";")
	}
	return b.String()
}

func sortedKeysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Checklist 3 (read side): Go decodes every option of a Node-added job to
// the same logical values.
func TestInterop03_GoDecodesNodeJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("")
	ids := e.nodeAdd(name, []nodeJobSpec{
		{Name: "full", Data: map[string]any{"k": "v"}, Opts: map[string]any{
			"attempts":            4,
			"backoff":             1500,
			"removeOnComplete":    map[string]any{"age": 60, "count": 3},
			"removeOnFail":        7,
			"lifo":                true,
			"keepLogs":            5,
			"deduplication":       map[string]any{"id": "dd", "ttl": 5000},
			"failParentOnFailure": true,
			"telemetry":           map[string]any{"metadata": "tp-123", "omitContext": true},
			"stackTraceLimit":     2,
			"priority":            3,
		}},
		{Name: "exp", Data: map[string]any{}, Opts: map[string]any{"backoff": map[string]any{"type": "exponential", "delay": 200, "jitter": 0.25}, "delay": 1234, "jobId": "cust"}},
	})
	raw := e.c.HGet(e.ctx, e.key(name, ids[0]), "opts").Val()
	for _, k := range []string{`"kl"`, `"de"`, `"fpof"`, `"tm"`, `"omc"`} {
		if !strings.Contains(raw, k) {
			t.Errorf("Node opts %s lacks short key %s", raw, k)
		}
	}
	q := e.goQueue(name)
	j, err := q.GetJob(e.ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	o := j.Opts
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", what, got, want)
		}
	}
	check("name", j.Name, "full")
	check("data", string(j.Data), `{"k":"v"}`)
	check("Attempts", o.Attempts, 4)
	check("Backoff", *o.Backoff, queue.Backoff{Type: "fixed", Delay: 1500 * time.Millisecond})
	if o.RemoveOnComplete == nil || o.RemoveOnComplete.Count != 3 || o.RemoveOnComplete.Age != time.Minute {
		t.Errorf("RemoveOnComplete = %+v", o.RemoveOnComplete)
	}
	if o.RemoveOnFail == nil || o.RemoveOnFail.Count != 7 {
		t.Errorf("RemoveOnFail = %+v", o.RemoveOnFail)
	}
	check("LIFO", o.LIFO, true)
	check("KeepLogs", o.KeepLogs, 5)
	if o.Deduplication == nil || o.Deduplication.ID != "dd" || o.Deduplication.TTL != 5000 {
		t.Errorf("Deduplication = %+v", o.Deduplication)
	}
	check("FailParentOnFailure", o.FailParentOnFailure, true)
	check("TelemetryMetadata", o.TelemetryMetadata, "tp-123")
	check("OmitContext", o.OmitContext, true)
	check("StackTraceLimit", o.StackTraceLimit, 2)
	check("Priority", o.Priority, 3)
	check("job.Priority", j.Priority, 3)
	check("DeduplicationID", j.DeduplicationID, "dd")
	check("Extra", len(o.Extra), 0)
	// Re-encoding the decoded options gives the same JSON value Node stored.
	re, err := o.MarshalJSON()
	if err != nil || !jsonEqual(re, []byte(raw)) {
		t.Errorf("re-encoded opts %s (%v), Node stored %s", re, err, raw)
	}

	j2, err := q.GetJob(e.ctx, "cust")
	if err != nil {
		t.Fatal(err)
	}
	check("exp.Backoff", *j2.Opts.Backoff, queue.Backoff{Type: "exponential", Delay: 200 * time.Millisecond, Jitter: 0.25})
	check("exp.Delay", j2.Delay, int64(1234))
	check("exp.Opts.Delay", j2.Opts.Delay, int64(1234))
	check("exp.JobID", j2.Opts.JobID, "cust")
	check("exp.data", string(j2.Data), `{}`)
}

// Checklist 11: Node's Queue.add accepts and rejects the same custom ids as
// queue.ValidateJobID (and Go's Add).
func TestInterop11_CustomIDValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("")
	ids := []string{"123", "-1", "0", "0:a:b", "a:b", "a:b:c:d", "007", "1e3", "12abc", "x:y:z", "5.0", " 5", "-0",
		"12345678901234567890", "abc", "1.5", "+1", "0x10", "00", "9007199254740993", "1e21", "a:b:", ":a:b"}
	var specs []nodeJobSpec
	for _, id := range ids {
		specs = append(specs, nodeJobSpec{Name: "v", Data: map[string]any{}, Opts: map[string]any{"jobId": id}})
	}
	got := e.nodeAdd(name, specs)
	q := e.goQueue(e.queueName("go"))
	for i, id := range ids {
		nodeOK := got[i] != ""
		verr := queue.ValidateJobID(id)
		_, aerr := q.Add(e.ctx, "v", nil, &queue.AddOptions{JobID: id})
		if nodeOK != (verr == nil) || nodeOK != (aerr == nil) {
			t.Errorf("id %q: Node accepted=%v, ValidateJobID=%v, Add=%v", id, nodeOK, verr, aerr)
		}
		if verr != nil && !errors.Is(verr, queue.ErrInvalidOption) {
			t.Errorf("id %q: error %v is not ErrInvalidOption", id, verr)
		}
	}
}

// Checklist 12: re-adding an existing custom id from Go (over a Node-added
// job and over a Go-added one).
func TestInterop12_DuplicateCustomID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("")
	e.nodeAdd(name, []nodeJobSpec{{Name: "orig", Data: map[string]any{"v": 1}, Opts: map[string]any{"jobId": "dup-1"}}})
	key := e.key(name, "dup-1")
	before := e.c.HGetAll(e.ctx, key).Val()
	idBefore, _ := e.c.Get(e.ctx, e.key(name, "id")).Int()
	evBefore := len(e.streamEntries(name))
	q := e.goQueue(name)
	j, err := q.Add(e.ctx, "other", map[string]int{"v": 2}, &queue.AddOptions{JobID: "dup-1", Delay: time.Second})
	if err != nil || j.ID != "dup-1" {
		t.Fatalf("re-add = %+v, %v", j, err)
	}
	if after := e.c.HGetAll(e.ctx, key).Val(); !reflect.DeepEqual(before, after) {
		t.Fatalf("hash changed:\n%v\n%v", before, after)
	}
	if idAfter, _ := e.c.Get(e.ctx, e.key(name, "id")).Int(); idAfter != idBefore+1 {
		t.Fatalf("id counter %d -> %d, want +1", idBefore, idAfter)
	}
	ev := e.streamEntries(name)[evBefore:]
	if len(ev) != 1 || ev[0].Values["event"] != "duplicated" || ev[0].Values["jobId"] != "dup-1" {
		t.Fatalf("events after the duplicate = %v", ev)
	}
	if n := e.c.ZCard(e.ctx, e.key(name, "delayed")).Val(); n != 0 {
		t.Fatalf("the duplicate was scheduled anyway (delayed has %d)", n)
	}
	// And Node re-adding a Go custom id returns that id too.
	if _, err := q.Add(e.ctx, "go", nil, &queue.AddOptions{JobID: "g:o:1"}); err != nil {
		t.Fatal(err)
	}
	gbefore := e.c.HGetAll(e.ctx, e.key(name, "g:o:1")).Val()
	if ids := e.nodeAdd(name, []nodeJobSpec{{Name: "n", Data: map[string]any{}, Opts: map[string]any{"jobId": "g:o:1"}}}); ids[0] != "g:o:1" {
		t.Fatalf("Node re-add returned %v", ids)
	}
	if after := e.c.HGetAll(e.ctx, e.key(name, "g:o:1")).Val(); !reflect.DeepEqual(gbefore, after) {
		t.Fatalf("Node changed the Go hash:\n%v\n%v", gbefore, after)
	}
}

// Checklist 38: with prefix {bull} (and with queue name {q}), Go and Node
// write byte-identical key names, and each reads the other's jobs.
func TestInterop38_HashTagKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ label, prefix, wrap string }{
		{"prefix", "{bull}", "%s"},
		{"name", "bull", "{%s}"},
	} {
		t.Run(tc.label, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.prefix = tc.prefix
			goName := strings.Replace(tc.wrap, "%s", e.queueName("g"), 1)
			nodeName := strings.Replace(tc.wrap, "%s", e.queueName("n"), 1)
			q := e.goQueue(goName)
			adds := sameAdds()
			var specs []nodeJobSpec
			for _, a := range adds {
				if _, err := q.Add(e.ctx, a.label, json.RawMessage(a.data), a.goOpt); err != nil {
					t.Fatal(err)
				}
				specs = append(specs, nodeJobSpec{Name: a.label, Data: json.RawMessage(a.data), Opts: a.node})
			}
			e.nodeAdd(nodeName, specs)
			// Node writes meta on construction; Go only maxLenEvents. Both
			// write the same key names otherwise.
			suffixes := func(n string) []string {
				ks, err := e.c.Keys(e.ctx, "*").Result()
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				pre := tc.prefix + ":" + n + ":"
				for _, k := range ks {
					if strings.HasPrefix(k, pre) {
						out = append(out, strings.TrimPrefix(k, pre))
					}
				}
				sort.Strings(out)
				return out
			}
			g, n := suffixes(goName), suffixes(nodeName)
			if !reflect.DeepEqual(g, n) || len(g) < len(adds) {
				t.Fatalf("key suffixes:\nGo   %v\nNode %v", g, n)
			}
			all, _ := e.c.Keys(e.ctx, "*").Result()
			for _, k := range all {
				if strings.Count(k, "{") != 1 || strings.Count(k, "}") != 1 {
					t.Errorf("key %q does not carry exactly one hash tag", k)
				}
			}
			// Go reads a Node job and Node reads a Go job under this prefix.
			if j, err := e.goQueue(nodeName).GetJob(e.ctx, "order:42:x"); err != nil || j.Name != "custom-id" {
				t.Fatalf("Go GetJob on the Node queue: %+v, %v", j, err)
			}
			jobs, _ := e.nodeInspect(goName, []string{"order:42:x", "1"}, nil)
			if m := jobs["order:42:x"]; m.Job == nil || m.Job.Name != "custom-id" || m.State != "waiting" {
				t.Fatalf("Node getJob on the Go queue: %s", m.Raw)
			}
			if m := jobs["1"]; m.Job == nil || m.Job.Name != "plain" {
				t.Fatalf("Node getJob(1) on the Go queue: %s", m.Raw)
			}
		})
	}
}
