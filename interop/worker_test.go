package interop

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zyeute/zyeute-redis/queue"
)

// goRec records what a Go worker did.
type goRec struct {
	mu       sync.Mutex
	started  []startRec
	events   []queue.WorkerEvent
	finals   int
	finalIDs map[string]string // id -> completed/failed
}

type startRec struct {
	ID, Name string
	TS       time.Time
	Attempts int
	Token    string
}

func newGoRec() *goRec { return &goRec{finalIDs: map[string]string{}} }

func (r *goRec) start(j *queue.Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, startRec{ID: j.ID, Name: j.Name, TS: time.Now(), Attempts: j.AttemptsMade, Token: j.Token()})
}

func (r *goRec) onEvent(ev queue.WorkerEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	if ev.Type == queue.EventCompleted || ev.Type == queue.EventFailed {
		r.finals++
		r.finalIDs[ev.JobID] = string(ev.Type)
	}
}

func (r *goRec) snapshot() ([]startRec, []queue.WorkerEvent, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]startRec(nil), r.started...), append([]queue.WorkerEvent(nil), r.events...), r.finals
}

func (r *goRec) waitFinals(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	waitUntil(t, timeout, strconv.Itoa(n)+" Go finals", func() (bool, error) {
		_, _, f := r.snapshot()
		return f >= n, nil
	})
}

func (r *goRec) waitStarted(t testing.TB, id string, timeout time.Duration) startRec {
	t.Helper()
	var got startRec
	waitUntil(t, timeout, "Go worker starting "+id, func() (bool, error) {
		st, _, _ := r.snapshot()
		for _, s := range st {
			if s.ID == id {
				got = s
				return true, nil
			}
		}
		return false, nil
	})
	return got
}

// jobData is the processor contract shared with peer.js (processJob).
type jobData struct {
	SleepMs       int             `json:"sleepMs"`
	Fail          *string         `json:"fail"`
	FailTimes     *int            `json:"failTimes"`
	Unrecoverable *string         `json:"unrecoverable"`
	Return        json.RawMessage `json:"return"`
	Progress      json.RawMessage `json:"progress"`
	Log           *string         `json:"log"`
}

// goHandler mirrors peer.js processJob; hold, when non-nil, is called
// after the start is recorded (tests use it to keep a job active).
func goHandler(r *goRec, hold func(ctx context.Context, j *queue.Job)) queue.Handler {
	return func(ctx context.Context, j *queue.Job) (any, error) {
		r.start(j)
		if hold != nil {
			hold(ctx, j)
		}
		var d jobData
		if err := j.Unmarshal(&d); err != nil {
			return nil, err
		}
		if d.Progress != nil {
			if err := j.UpdateProgress(ctx, d.Progress); err != nil {
				return nil, err
			}
		}
		if d.Log != nil {
			if err := j.Log(ctx, *d.Log); err != nil {
				return nil, err
			}
		}
		if d.SleepMs > 0 {
			select {
			case <-time.After(time.Duration(d.SleepMs) * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if d.Unrecoverable != nil {
			return nil, queue.Unrecoverable(errors.New(*d.Unrecoverable))
		}
		if d.Fail != nil && (d.FailTimes == nil || j.AttemptsMade < *d.FailTimes) {
			return nil, errors.New(*d.Fail)
		}
		if d.Return == nil {
			return nil, nil
		}
		return d.Return, nil
	}
}

// goWorker starts a Go worker on queue name (closed at cleanup). opts may be
// nil; Prefix and OnEvent are filled in, DrainDelay defaults to 1 s.
func (e *env) goWorker(name string, opts *queue.WorkerOptions, hold func(context.Context, *queue.Job)) (*queue.Worker, *goRec) {
	e.t.Helper()
	r := newGoRec()
	var o queue.WorkerOptions
	if opts != nil {
		o = *opts
	}
	o.Prefix = e.prefix
	o.OnEvent = r.onEvent
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.DrainDelay == 0 {
		o.DrainDelay = time.Second
	}
	w, err := queue.NewWorker(e.c, name, goHandler(r, hold), &o)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := w.Start(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Close(ctx); err != nil {
			e.t.Errorf("closing the Go worker: %v", err)
		}
	})
	return w, r
}

func closeWorker(t testing.TB, w *queue.Worker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatalf("closing the Go worker: %v", err)
	}
}

// Node adds the mix → a Go worker processes it; Node's QueueEvents sees the
// Go results; the outcome equals that of a Node worker on the same input.
func TestInteropMix_NodeAddsGoWorks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mix := theMix()
	goName, refName := e.queueName("g"), e.queueName("ref")
	ids := e.nodeAdd(goName, mixNodeSpecs(mix))
	refIDs := e.nodeAdd(refName, mixNodeSpecs(mix))
	if !reflect.DeepEqual(ids, refIDs) {
		t.Fatalf("ids %v vs %v", ids, refIDs)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.nodeProcess(refName, len(mix), nil)
	}()
	w, r := e.goWorker(goName, &queue.WorkerOptions{Concurrency: 1}, nil)
	r.waitFinals(t, len(mix), 60*time.Second)
	closeWorker(t, w)
	<-done
	compareFinal(t, mix, e.finalState(goName, ids), e.finalState(refName, refIDs))
	checkMixEvents(t, mix, ids, e.readAllEvents(goName))
	// Node reads every Go-finished job without error.
	nj, _ := e.nodeInspect(goName, ids, nil)
	for i, id := range ids {
		if nj[id].Raw == nil || strings.Contains(string(nj[id].Raw), "jobError") {
			t.Errorf("%s: Node cannot read the job: %s", mix[i].label, nj[id].Raw)
		}
	}
}

// Checklist 18 and 19: a Go fetch and a Go completion of Node-added jobs.
func TestInterop18_19_GoFetchAndComplete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("")
	ids := e.nodeAdd(name, []nodeJobSpec{
		{Name: "first", Data: map[string]any{"return": map[string]any{"v": "é", "n": 1.5}}},
		{Name: "second", Data: map[string]any{}},
	})
	release := make(chan struct{})
	w, r := e.goWorker(name, &queue.WorkerOptions{Name: "gw", LockDuration: 4 * time.Second}, func(ctx context.Context, j *queue.Job) {
		if j.Name == "first" {
			<-release
		}
	})
	s := r.waitStarted(t, ids[0], 10*time.Second)
	id := ids[0]
	if a := e.c.LRange(e.ctx, e.key(name, "active"), 0, -1).Val(); !reflect.DeepEqual(a, []string{id}) {
		t.Errorf("active = %v", a)
	}
	if wl := e.c.LRange(e.ctx, e.key(name, "wait"), 0, -1).Val(); !reflect.DeepEqual(wl, []string{ids[1]}) {
		t.Errorf("wait = %v", wl)
	}
	if lock := e.c.Get(e.ctx, e.key(name, id+":lock")).Val(); lock == "" || lock != s.Token {
		t.Errorf("lock = %q, token %q", lock, s.Token)
	}
	if pttl := e.c.PTTL(e.ctx, e.key(name, id+":lock")).Val(); pttl <= 2*time.Second || pttl > 4*time.Second {
		t.Errorf("lock PTTL = %v, want ≈ 4s", pttl)
	}
	h := e.c.HGetAll(e.ctx, e.key(name, id)).Val()
	if h["ats"] != "1" || h["pb"] != "gw" || h["processedOn"] == "" {
		t.Errorf("job hash while active = %v", h)
	}
	if _, err := e.c.ZScore(e.ctx, e.key(name, "marker"), "0").Result(); err != nil {
		t.Errorf("marker 0 after the fetch: %v", err)
	}
	close(release)
	r.waitFinals(t, 2, 10*time.Second)
	closeWorker(t, w)
	h = e.c.HGetAll(e.ctx, e.key(name, id)).Val()
	if e.c.Exists(e.ctx, e.key(name, id+":lock")).Val() != 0 {
		t.Error("lock still exists after completion")
	}
	if e.c.SIsMember(e.ctx, e.key(name, "stalled"), id).Val() {
		t.Error("job still in stalled")
	}
	score, err := e.c.ZScore(e.ctx, e.key(name, "completed"), id).Result()
	if err != nil || strconv.FormatInt(int64(score), 10) != h["finishedOn"] {
		t.Errorf("completed score %v (%v), finishedOn %s", score, err, h["finishedOn"])
	}
	if !jsonEqual([]byte(h["returnvalue"]), []byte(`{"v":"é","n":1.5}`)) || h["atm"] != "1" {
		t.Errorf("hash after completion = %v", h)
	}
	var seq []string
	for _, x := range e.streamEntries(name) {
		if x.Values["jobId"] != id {
			continue
		}
		ev := toString(x.Values["event"])
		seq = append(seq, ev+"/"+toString(x.Values["prev"]))
		if ev == "completed" && x.Values["returnvalue"] != h["returnvalue"] {
			t.Errorf("completed event returnvalue %v, hash %s", x.Values["returnvalue"], h["returnvalue"])
		}
	}
	if want := []string{"added/", "waiting/", "active/waiting", "completed/active"}; !reflect.DeepEqual(seq, want) {
		t.Errorf("events %v, want %v", seq, want)
	}
	p := startPeer(e.ctx, t, "finished", e.args(name, map[string]any{"ids": []string{id}}))
	f := p.waitType("finished", 20*time.Second)
	if f.Reason != "" || !jsonEqual(f.Result, []byte(`{"v":"é","n":1.5}`)) {
		t.Errorf("Node waitUntilFinished = %s", f.Raw)
	}
	p.collect(10 * time.Second)
}

// drainedCount counts `drained` entries in the stream.
func (e *env) drainedCount(name string) int {
	n := 0
	for _, x := range e.streamEntries(name) {
		if x.Values["event"] == "drained" {
			n++
		}
	}
	return n
}

// holdsFor checks cond stays true for d (bounded polling).
func holdsFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !cond() {
			t.Fatalf("%s stopped holding", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Checklist 20: exactly one `drained` when the last job finishes with an
// empty delayed set, none when a job is delayed; Go and Node alike.
func TestInterop20_Drained(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, side := range []string{"go", "node"} {
		for _, withDelayed := range []bool{false, true} {
			name := e.queueName(side + strconv.FormatBool(withDelayed))
			specs := []nodeJobSpec{{Name: "a", Data: map[string]any{}}, {Name: "b", Data: map[string]any{}}}
			if withDelayed {
				specs = append(specs, nodeJobSpec{Name: "d", Data: map[string]any{}, Opts: map[string]any{"delay": 3600000}})
			}
			e.nodeAdd(name, specs)
			if side == "go" {
				w, r := e.goWorker(name, nil, nil)
				r.waitFinals(t, 2, 10*time.Second)
				holdsFor(t, 1500*time.Millisecond, "≤ 1 drained", func() bool { return e.drainedCount(name) <= 1 })
				closeWorker(t, w)
			} else {
				p := startPeer(e.ctx, t, "work", e.args(name, map[string]any{"exitAfter": 2}))
				p.collect(20 * time.Second)
			}
			want := 1
			if withDelayed {
				want = 0
			}
			if n := e.drainedCount(name); n != want {
				t.Errorf("%s worker, delayed=%v: %d drained events, want %d", side, withDelayed, n, want)
			}
		}
	}
}

// Checklist 21: attempts 3 with exponential backoff 1000 that always fails
// on a Go worker.
func TestInterop21_ExponentialBackoff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("")
	ids := e.nodeAdd(name, []nodeJobSpec{{Name: "x", Data: map[string]any{"fail": "boom: é"},
		Opts: map[string]any{"attempts": 3, "backoff": map[string]any{"type": "exponential", "delay": 1000}}}})
	w, r := e.goWorker(name, nil, nil)
	r.waitFinals(t, 1, 20*time.Second)
	closeWorker(t, w)
	id := ids[0]
	var delays []int64
	var seq []string
	for _, x := range e.streamEntries(name) {
		if x.Values["jobId"] != id {
			continue
		}
		ev := toString(x.Values["event"])
		seq = append(seq, ev)
		if ev == "delayed" {
			due, _ := strconv.ParseInt(toString(x.Values["delay"]), 10, 64)
			ms, _ := strconv.ParseInt(strings.SplitN(x.ID, "-", 2)[0], 10, 64)
			delays = append(delays, due-ms)
		}
		if ev == "retries-exhausted" && x.Values["attemptsMade"] != "3" {
			t.Errorf("retries-exhausted attemptsMade = %v", x.Values["attemptsMade"])
		}
		if ev == "failed" && x.Values["failedReason"] != "boom: é" {
			t.Errorf("failed event reason %v", x.Values["failedReason"])
		}
	}
	// Retried attempts emit no `failed` event (Node BullMQ does the same).
	want := []string{"added", "waiting", "active", "delayed", "waiting", "active", "delayed", "waiting", "active", "failed", "retries-exhausted"}
	if !reflect.DeepEqual(seq, want) {
		t.Errorf("events %v\nwant   %v", seq, want)
	}
	if len(delays) != 2 || delays[0] < 950 || delays[0] > 1100 || delays[1] < 1950 || delays[1] > 2100 {
		t.Errorf("delayed due − event time = %v ms, want ≈ [1000 2000]", delays)
	}
	h := e.c.HGetAll(e.ctx, e.key(name, id)).Val()
	var st []string
	if err := json.Unmarshal([]byte(h["stacktrace"]), &st); err != nil || len(st) == 0 {
		t.Errorf("stacktrace %q is not a JSON array of strings (%v)", h["stacktrace"], err)
	}
	if h["failedReason"] != "boom: é" || h["atm"] != "3" || h["ats"] != "3" {
		t.Errorf("hash = %v", h)
	}
	if _, err := e.c.ZScore(e.ctx, e.key(name, "failed"), id).Result(); err != nil {
		t.Errorf("not in failed: %v", err)
	}
	nj, _ := e.nodeInspect(name, ids, nil)
	if j := nj[id].Job; j == nil || j.AttemptsMade != 3 || j.FailedReason != "boom: é" || nj[id].State != "failed" {
		t.Errorf("Node view %s", nj[id].Raw)
	}
}

// Checklist 22: a failure with attempts left and no backoff re-queues the
// job: at the back of wait (LPUSH), at the front with lifo, in prioritized
// with a priority. Same order as a Node worker.
func TestInterop22_RetryWithoutBackoff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		label string
		opts  map[string]any
		want  []string
	}{
		{"fifo", map[string]any{"attempts": 2}, []string{"J", "K", "L", "J"}},
		{"lifo", map[string]any{"attempts": 2, "lifo": true}, []string{"J", "J", "K", "L"}},
		{"prio", map[string]any{"attempts": 2, "priority": 1}, []string{"K", "L", "J", "J"}},
	}
	for _, c := range cases {
		for _, side := range []string{"go", "node"} {
			name := e.queueName(c.label + side)
			specs := []nodeJobSpec{
				{Name: "J", Data: map[string]any{"fail": "once", "failTimes": 1}, Opts: c.opts},
				{Name: "K", Data: map[string]any{}},
				{Name: "L", Data: map[string]any{}},
			}
			if c.label == "lifo" { // J must be the next job: add it last
				specs = []nodeJobSpec{specs[1], specs[2], specs[0]}
			}
			ids := e.nodeAdd(name, specs)
			var order []string
			if side == "go" {
				w, r := e.goWorker(name, nil, nil)
				r.waitFinals(t, 3, 10*time.Second)
				closeWorker(t, w)
				st, _, _ := r.snapshot()
				for _, s := range st {
					order = append(order, s.Name)
				}
			} else {
				for _, m := range e.nodeProcess(name, 3, nil) {
					if m.Type == "started" {
						order = append(order, m.Name)
					}
				}
			}
			if !reflect.DeepEqual(order, c.want) {
				t.Errorf("%s/%s: started %v, want %v", c.label, side, order, c.want)
			}
			jid := ids[0]
			if c.label == "lifo" {
				jid = ids[2]
			}
			var seq []string
			for _, x := range e.streamEntries(name) {
				if x.Values["jobId"] == jid {
					seq = append(seq, toString(x.Values["event"])+"/"+toString(x.Values["prev"]))
				}
			}
			// A retried attempt emits `waiting` prev=active, no `failed`.
			want := []string{"added/", "waiting/", "active/waiting", "waiting/active", "active/waiting", "completed/active"}
			if !reflect.DeepEqual(seq, want) {
				t.Errorf("%s/%s: events %v, want %v", c.label, side, seq, want)
			}
			if atm := e.c.HGet(e.ctx, e.key(name, jid), "atm").Val(); atm != "2" {
				t.Errorf("%s/%s: atm %s, want 2", c.label, side, atm)
			}
		}
	}
}

// Checklist 23: an unrecoverable failure is final whatever attempts says;
// retries-exhausted only when atm ≥ attempts. Go and Node write the same
// events.
func TestInterop23_Unrecoverable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	shapes := map[string][]string{}
	for _, side := range []string{"go", "node"} {
		name := e.queueName(side)
		ids := e.nodeAdd(name, []nodeJobSpec{
			{Name: "five", Data: map[string]any{"unrecoverable": "fatal"}, Opts: map[string]any{"attempts": 5}},
			{Name: "one", Data: map[string]any{"unrecoverable": "fatal"}, Opts: map[string]any{"attempts": 1}},
		})
		if side == "go" {
			w, r := e.goWorker(name, nil, nil)
			r.waitFinals(t, 2, 10*time.Second)
			closeWorker(t, w)
		} else {
			e.nodeProcess(name, 2, nil)
		}
		for _, id := range ids {
			h := e.c.HGetAll(e.ctx, e.key(name, id)).Val()
			if h["atm"] != "1" || h["failedReason"] != "fatal" {
				t.Errorf("%s job %s: %v", side, id, h)
			}
		}
		var seq []string
		for _, x := range e.streamEntries(name) {
			ev := toString(x.Values["event"])
			if ev == "failed" || ev == "retries-exhausted" {
				seq = append(seq, ev+":"+toString(x.Values["jobId"]))
			}
		}
		shapes[side] = seq
		want := []string{"failed:" + ids[0], "failed:" + ids[1], "retries-exhausted:" + ids[1]}
		if !reflect.DeepEqual(seq, want) {
			t.Errorf("%s: %v, want %v", side, seq, want)
		}
	}
	if !reflect.DeepEqual(shapes["go"], shapes["node"]) {
		t.Errorf("Go %v, Node %v", shapes["go"], shapes["node"])
	}
}

// Checklist 24: retention — removeOnComplete true deletes the hash and its
// sub-keys, a count counts all jobs, {age} removes old entries, and the
// worker option applies only when the job has none. Go equals Node.
func TestInterop24_Retention(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	type outcome struct {
		Completed []string
		Hashes    map[string]bool
		Logs      bool
	}
	results := map[string]outcome{}
	for _, side := range []string{"go", "node"} {
		name := e.queueName(side)
		// Seed two finished jobs: one 20 s old, one 1 s old.
		now := time.Now().UnixMilli()
		for id, age := range map[string]int64{"old:job:1": 20000, "new:job:1": 1000} {
			e.c.HSet(e.ctx, e.key(name, id), "name", "seed", "data", "{}", "opts", `{"attempts":0}`, "timestamp", now-age,
				"delay", 0, "priority", 0, "finishedOn", now-age, "returnvalue", "null")
			e.c.ZAdd(e.ctx, e.key(name, "completed"), redis.Z{Score: float64(now - age), Member: id})
		}
		ids := e.nodeAdd(name, []nodeJobSpec{
			{Name: "age", Data: map[string]any{}, Opts: map[string]any{"removeOnComplete": map[string]any{"age": 10}}},
			{Name: "gone", Data: map[string]any{"log": "line", "return": 1}, Opts: map[string]any{"removeOnComplete": true}},
			{Name: "w1", Data: map[string]any{"sleepMs": 5}},
			{Name: "w2", Data: map[string]any{"sleepMs": 5}},
			{Name: "keep", Data: map[string]any{"sleepMs": 5}, Opts: map[string]any{"removeOnComplete": false}},
			{Name: "count2", Data: map[string]any{"sleepMs": 5}, Opts: map[string]any{"removeOnComplete": 4}},
		})
		if side == "go" {
			w, r := e.goWorker(name, &queue.WorkerOptions{RemoveOnComplete: queue.KeepLast(3)}, nil)
			r.waitFinals(t, len(ids), 10*time.Second)
			closeWorker(t, w)
		} else {
			e.nodeProcess(name, len(ids), map[string]any{"removeOnComplete": map[string]any{"count": 3}})
		}
		o := outcome{Completed: e.c.ZRange(e.ctx, e.key(name, "completed"), 0, -1).Val(), Hashes: map[string]bool{}}
		for _, id := range append(ids, "old:job:1", "new:job:1") {
			o.Hashes[id] = e.c.Exists(e.ctx, e.key(name, id)).Val() == 1
		}
		o.Logs = e.c.Exists(e.ctx, e.key(name, ids[1]+":logs")).Val() == 1
		results[side] = o
		// The `completed` event of the removed job is still written.
		found := false
		for _, x := range e.streamEntries(name) {
			if x.Values["event"] == "completed" && x.Values["jobId"] == ids[1] {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no completed event for the removeOnComplete:true job", side)
		}
	}
	if !reflect.DeepEqual(results["go"], results["node"]) {
		t.Errorf("Go %+v\nNode %+v", results["go"], results["node"])
	}
	if g := results["go"]; g.Hashes["old:job:1"] || g.Hashes["2"] || g.Logs {
		t.Errorf("retention did not remove what it should: %+v", g)
	}
}

// clientBlocking reports whether a connection whose name contains substr
// (or any connection when substr is "") is blocked in BZPOPMIN.
func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func (e *env) clientBlocking(substr string) bool {
	list := e.c.ClientList(e.ctx).Val()
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "cmd=bzpopmin") && strings.Contains(line, substr) {
			return true
		}
	}
	return false
}

// Checklist 25: idle pickup both ways. An idle worker blocks on the marker
// with drainDelay 5 s; the marker written by the other side's add must wake
// it: the job starts well before the drain delay (bound 1.5 s, a functional
// marker check, not a speed test).
func TestInterop25_IdlePickup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t.Run("node-add-go-worker", func(t *testing.T) {
		name := e.queueName("g")
		_, r := e.goWorker(name, &queue.WorkerOptions{Name: "idle", DrainDelay: 5 * time.Second}, nil)
		waitUntil(t, 10*time.Second, "Go worker blocked on the marker", func() (bool, error) { return e.clientBlocking(":w:idle"), nil })
		p := startPeer(e.ctx, t, "add", e.args(name, map[string]any{"jobs": []nodeJobSpec{{Name: "x", Data: map[string]any{}}}}))
		added := p.waitType("added", 10*time.Second)
		s := r.waitStarted(t, added.ID, 10*time.Second)
		ts := e.c.HGet(e.ctx, e.key(name, added.ID), "timestamp").Val()
		at, _ := strconv.ParseInt(ts, 10, 64)
		if lat := s.TS.UnixMilli() - at; lat > 1500 {
			t.Errorf("the idle Go worker started the Node job %d ms after the add (marker not seen?)", lat)
		}
		p.collect(10 * time.Second)
	})
	t.Run("go-add-node-worker", func(t *testing.T) {
		name := e.queueName("n")
		p := startPeer(e.ctx, t, "work", e.args(name, map[string]any{"exitAfter": 1, "drainDelay": 5, "name": "idle"}))
		waitUntil(t, 10*time.Second, "Node worker blocked on the marker", func() (bool, error) { return e.clientBlocking(":w:idle"), nil })
		j, err := e.goQueue(name).Add(e.ctx, "x", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := p.waitType("started", 10*time.Second)
		if lat := s.TS - j.Timestamp; lat > 1500 {
			t.Errorf("the idle Node worker started the Go job %d ms after the add (marker not written?)", lat)
		}
		p.collect(10 * time.Second)
	})
}

// Checklist 26: a Go worker running a job for 3× lockDuration keeps the lock
// alive; a Node stalled checker running meanwhile never reports it.
func TestInterop26_LockRenewal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("")
	w, r := e.goWorker(name, &queue.WorkerOptions{LockDuration: time.Second}, nil)
	j, err := e.goQueue(name).Add(e.ctx, "long", map[string]any{"sleepMs": 3000, "return": "done"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.waitStarted(t, j.ID, 10*time.Second)
	// A Node stalled checker on the same queue; it would also fetch, so it
	// gets no job to fetch: everything else is empty.
	np := startPeer(e.ctx, t, "work", e.args(name, map[string]any{"stalledInterval": 300, "lockDuration": 1000}))
	lock := e.key(name, j.ID+":lock")
	waitUntil(t, 10*time.Second, "the long job to finish", func() (bool, error) {
		_, _, f := r.snapshot()
		if f >= 1 {
			return true, nil
		}
		n, err := e.c.Exists(e.ctx, lock).Result()
		if err != nil {
			return false, err
		}
		if n == 0 {
			// The lock may be gone only because the job just finished.
			if _, _, f := r.snapshot(); f == 0 && e.c.LPos(e.ctx, e.key(name, "active"), j.ID, redis.LPosArgs{}).Err() == nil {
				return false, errors.New("lock expired while the Go worker was running the job")
			}
		}
		return false, nil
	})
	closeWorker(t, w)
	for _, m := range np.terminate(10 * time.Second) {
		if m.Type == "stalled" {
			t.Errorf("Node reported a stall of the Go-held job: %s", m.Raw)
		}
		if m.Type == "started" {
			t.Errorf("Node started a job the Go worker held: %s", m.Raw)
		}
	}
	h := e.c.HGetAll(e.ctx, e.key(name, j.ID)).Val()
	if h["stc"] != "" && h["stc"] != "0" || h["atm"] != "1" || h["returnvalue"] != `"done"` {
		t.Errorf("hash after a long job = %v", h)
	}
}

// Checklist 37: Node's getWorkers lists a named Go worker by its blocking
// connection name.
func TestInterop37_GetWorkers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("")
	e.goWorker(name, &queue.WorkerOptions{Name: "w1"}, nil)
	want := "bull:" + b64(name) + ":w:w1"
	waitUntil(t, 10*time.Second, "connection "+want, func() (bool, error) {
		return strings.Contains(e.c.ClientList(e.ctx).Val(), "name="+want+" "), nil
	})
	_, nq := e.nodeInspect(name, nil, nil)
	found := false
	for _, w := range nq.Workers {
		if w.RawName == want {
			found = true
		}
	}
	if !found {
		t.Errorf("Node getWorkers = %+v, want w1 (%s)", nq.Workers, want)
	}
}
