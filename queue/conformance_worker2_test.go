package queue

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Checklist 26: a job running for 3× lockDuration keeps its lock; a
// concurrent stalled checker never recovers it.
func TestConformance26_LockKeptAlive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const lock = 300 * time.Millisecond
	id := mustAdd(t, b, "long", nil)
	rec := &recorder{}
	startWorker(t, b, func(ctx context.Context, j *Job) (any, error) {
		// CPU-bound on purpose: renewal must not depend on the handler.
		end := time.Now().Add(3 * lock)
		for time.Now().Before(end) {
		}
		return "done", ctx.Err()
	}, &WorkerOptions{LockDuration: lock, SkipStalledCheck: true, OnEvent: rec.on})
	b.waitState(t, id, StateActive) // the checker below must not take the job
	checker := &recorder{}
	startWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil },
		&WorkerOptions{StalledInterval: 50 * time.Millisecond, LockDuration: lock, OnEvent: checker.on})
	b.waitState(t, id, StateCompleted)
	if n := countEvents(b.events(t), "stalled"); n != 0 || checker.count(EventStalled) != 0 {
		t.Fatalf("%d stalled events", n)
	}
	if h := b.hash(t, id); h["stc"] != "" || h["ats"] != "1" || h["returnvalue"] != `"done"` {
		t.Fatalf("hash %v", h)
	}
	if rec.count(EventLockLost) != 0 {
		t.Fatal("lock lost")
	}
}

// Checklist 27 (Go side): the two-phase stalled check, seeded and run
// directly: a job whose holder died goes to the tail of wait with
// `waiting` prev=active then `stalled`, stc+1; `stalled-check` keeps it to
// once per interval.
func TestConformance27_StalledCheckState(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil },
		&WorkerOptions{StalledInterval: 100 * time.Millisecond, LockDuration: time.Minute})
	id := mustAdd(t, b, "dead", nil)
	fetch(t, w)
	x := mustAdd(t, b, "x", nil)
	if err := w.checkStalled(); err != nil { // phase 1: snapshot
		t.Fatal(err)
	}
	if got := b.client.SMembers(b.ctx, b.q.k.stalled()).Val(); !reflect.DeepEqual(got, []string{id}) {
		t.Fatalf("stalled = %v", got)
	}
	if pttl := b.client.PTTL(b.ctx, b.q.k.stalledCheck()).Val(); pttl <= 0 || pttl > 100*time.Millisecond {
		t.Fatalf("stalled-check PTTL %v", pttl)
	}
	b.client.Del(b.ctx, b.q.k.lock(id)) // the holder died
	if err := w.checkStalled(); err != nil {
		t.Fatal(err)
	}
	if got := b.client.LRange(b.ctx, b.q.k.wait(), 0, -1).Val(); !reflect.DeepEqual(got, []string{x}) {
		t.Fatalf("check ran twice in one interval: wait %v", got)
	}
	waitFor(t, 5*time.Second, "stalled-check to expire", func() bool {
		return b.client.Exists(b.ctx, b.q.k.stalledCheck()).Val() == 0
	})
	if err := w.checkStalled(); err != nil {
		t.Fatal(err)
	}
	if got := b.client.LRange(b.ctx, b.q.k.wait(), 0, -1).Val(); !reflect.DeepEqual(got, []string{x, id}) {
		t.Fatalf("wait = %v, want the recovered job at the tail", got)
	}
	if got := b.eventsOf(t, id); !reflect.DeepEqual(got[len(got)-2:], []string{"waiting/active", "stalled"}) {
		t.Fatalf("events %v", got)
	}
	if h := b.hash(t, id); h["stc"] != "1" || h["defa"] != "" {
		t.Fatalf("hash %v", h)
	}
	if b.client.LLen(b.ctx, b.q.k.active()).Val() != 0 {
		t.Fatal("job left in active")
	}
}

// Checklist 27 (Go ↔ Go): a worker loses its job (lock deleted, as when
// its process dies); another worker's checker recovers and runs it; the
// first worker's late finish is ignored.
func TestConformance27_StalledRecoveredByOtherWorker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := mustAdd(t, b, "j", nil)
	started := make(chan struct{})
	deadRec := &recorder{}
	startWorker(t, b, func(ctx context.Context, j *Job) (any, error) {
		close(started)
		<-ctx.Done()
		return "late", nil
	}, &WorkerOptions{LockDuration: 400 * time.Millisecond, SkipStalledCheck: true, OnEvent: deadRec.on})
	<-started
	b.client.Del(b.ctx, b.q.k.lock(id))
	var runs atomic.Int32
	rec := &recorder{}
	startWorker(t, b, func(context.Context, *Job) (any, error) {
		runs.Add(1)
		return "rescued", nil
	}, &WorkerOptions{StalledInterval: 100 * time.Millisecond, OnEvent: rec.on})
	b.waitState(t, id, StateCompleted)
	waitFor(t, 5*time.Second, "lock loss noticed", func() bool { return deadRec.count(EventLockLost) > 0 })
	h := b.hash(t, id)
	if h["returnvalue"] != `"rescued"` || h["stc"] != "1" || runs.Load() != 1 || rec.count(EventStalled) != 1 {
		t.Fatalf("hash %v runs %d", h, runs.Load())
	}
	got := b.eventsOf(t, id)
	i := indexOf(got, "stalled")
	if i < 1 || got[i-1] != "waiting/active" {
		t.Fatalf("events %v", got)
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// Checklist 28: maxStalledCount 0 sets `defa`; the next fetch fails the job
// without running it, deletes `defa`, and does not retry.
func TestConformance28_StalledLimitDeferredFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := mustAdd(t, b, "s", &AddOptions{Attempts: 3})
	w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil },
		&WorkerOptions{StalledInterval: 50 * time.Millisecond, MaxStalledCount: IntPtr(0)})
	fetch(t, w)
	if err := w.checkStalled(); err != nil {
		t.Fatal(err)
	}
	b.client.Del(b.ctx, b.q.k.lock(id), b.q.k.stalledCheck())
	if err := w.checkStalled(); err != nil {
		t.Fatal(err)
	}
	if d := b.hash(t, id)["defa"]; d != "job stalled more than allowable limit" {
		t.Fatalf("defa = %q", d)
	}
	var runs atomic.Int32
	startWorker(t, b, func(context.Context, *Job) (any, error) { runs.Add(1); return nil, nil }, nil)
	b.waitState(t, id, StateFailed)
	h := b.hash(t, id)
	if runs.Load() != 0 || h["failedReason"] != "job stalled more than allowable limit" || h["defa"] != "" || h["atm"] != "1" {
		t.Fatalf("runs %d hash %v", runs.Load(), h)
	}
}

// Checklist 35 (Go side): meta max/duration limit starts across workers;
// `defa` jobs do not consume the budget.
func TestConformance35_GlobalRateLimit(t *testing.T) {
	t.Parallel()
	t.Run("window", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		if err := b.q.SetGlobalRateLimit(b.ctx, 2, time.Second); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var starts []int64
		h := func(context.Context, *Job) (any, error) {
			mu.Lock()
			starts = append(starts, time.Now().UnixMilli())
			mu.Unlock()
			return nil, nil
		}
		for i := 0; i < 5; i++ {
			mustAdd(t, b, "r", nil)
		}
		// the worker's own limiter max is beaten by meta max
		startWorker(t, b, h, &WorkerOptions{Concurrency: 3, Limiter: &RateLimiter{Max: 100, Duration: time.Second}})
		startWorker(t, b, h, &WorkerOptions{Concurrency: 3})
		waitFor(t, 10*time.Second, "first window", func() bool { mu.Lock(); defer mu.Unlock(); return len(starts) >= 2 })
		if pttl := b.client.PTTL(b.ctx, b.q.k.limiter()).Val(); pttl > time.Second {
			t.Fatalf("limiter PTTL %v", pttl)
		}
		waitFor(t, 10*time.Second, "5 starts", func() bool { mu.Lock(); defer mu.Unlock(); return len(starts) == 5 })
		mu.Lock()
		defer mu.Unlock()
		sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
		for i := 0; i+2 < len(starts); i++ {
			if d := starts[i+2] - starts[i]; d < 900 {
				t.Fatalf("3 starts within %d ms: %v", d, starts)
			}
		}
	})
	t.Run("defa-exempt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		if err := b.q.SetGlobalRateLimit(b.ctx, 1, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		d := mustAdd(t, b, "d", nil)
		b.client.HSet(b.ctx, b.q.k.job(d), "defa", "child x failed")
		mustAdd(t, b, "n1", nil)
		mustAdd(t, b, "n2", nil)
		w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil }, nil)
		if r, _ := fetch(t, w); r.id != d || b.client.Exists(b.ctx, b.q.k.limiter()).Val() != 0 {
			t.Fatalf("defa job %q consumed the budget", r.id)
		}
		if r, _ := fetch(t, w); r.id == "" || b.client.Get(b.ctx, b.q.k.limiter()).Val() != "1" {
			t.Fatal("normal job did not count")
		}
		if r, _ := fetch(t, w); r.id != "" || r.rateTTL <= 0 || r.rateTTL > 10000 {
			t.Fatalf("third fetch %+v, want rate limited", r)
		}
	})
}

// Checklist 36: the events stream stays near maxLenEvents and every entry
// starts with `event` and carries valid JSON where Node expects JSON.
func TestConformance36_EventsBounded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.client.HSet(b.ctx, b.q.k.meta(), "opts.maxLenEvents", 100)
	var bulk []BulkJob
	for i := 0; i < 400; i++ {
		bulk = append(bulk, BulkJob{Name: "e", Data: map[string]int{"i": i}})
	}
	if _, err := b.q.AddBulk(b.ctx, bulk); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	startWorker(t, b, func(ctx context.Context, j *Job) (any, error) {
		if err := j.UpdateProgress(ctx, map[string]int{"p": 50}); err != nil {
			return nil, err
		}
		return map[string]any{"name": j.Name, "s": "</x>"}, nil
	}, &WorkerOptions{Concurrency: 4, OnEvent: rec.on})
	waitFor(t, 20*time.Second, "400 completions", func() bool { return rec.count(EventCompleted) == 400 })
	if n := b.client.XLen(b.ctx, b.q.k.events()).Val(); n > 400 {
		t.Fatalf("events stream has %d entries with maxLenEvents 100", n)
	}
	raw, err := b.client.Do(b.ctx, "XRANGE", b.q.k.events(), "-", "+").Slice()
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range raw {
		fields := entry.([]any)[1].([]any)
		if fields[0] != "event" {
			t.Fatalf("entry does not start with event: %v", fields)
		}
		m := map[string]string{}
		for i := 0; i+1 < len(fields); i += 2 {
			m[fields[i].(string)] = fields[i+1].(string)
		}
		switch m["event"] {
		case "completed":
			if !json.Valid([]byte(m["returnvalue"])) {
				t.Fatalf("returnvalue not JSON: %v", m)
			}
		case "progress":
			if m["data"] != `{"p":50}` {
				t.Fatalf("progress data %v", m)
			}
		}
	}
}

// Checklist 37: the blocking connection's name.
func TestConformance37_ConnectionName(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w, err := NewWorker(b.client, "q", func(context.Context, *Job) (any, error) { return nil, nil },
		&WorkerOptions{Name: "w1", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	waitFor(t, 5*time.Second, "named blocking connection", func() bool {
		return strings.Contains(b.client.ClientList(b.ctx).Val(), "name=bull:cQ==:w:w1 ")
	})
	if got := connectionName("bull", "q2", ""); got != "bull:cTI=" {
		t.Fatalf("unnamed connection name %q", got)
	}
}

// Checklist 38: prefix {bull} and queue {q} give exact key names; braces
// are never added.
func TestConformance38_HashTagKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	q, err := NewQueue(b.client, "{q}", &QueueOptions{Prefix: "{bull}"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Add(b.ctx, "k", nil, &AddOptions{Attempts: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Add(b.ctx, "later", nil, &AddOptions{Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	w, err := NewWorker(b.client, "{q}", func(ctx context.Context, j *Job) (any, error) {
		_ = j.Log(ctx, "l")
		return nil, nil
	}, &WorkerOptions{Prefix: "{bull}", OnEvent: rec.on, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	waitFor(t, 5*time.Second, "completion", func() bool { return rec.count(EventCompleted) == 1 })
	waitFor(t, 5*time.Second, "stalled check", func() bool {
		return b.client.Exists(b.ctx, "{bull}:{q}:stalled-check").Val() == 1
	})
	var got []string
	for _, k := range b.client.Keys(b.ctx, "*").Val() {
		if k != "{bull}:{q}:marker" { // present or not depending on the blocked worker's timing
			got = append(got, k)
		}
	}
	sort.Strings(got)
	want := []string{"{bull}:{q}:1", "{bull}:{q}:1:logs", "{bull}:{q}:2", "{bull}:{q}:completed", "{bull}:{q}:delayed",
		"{bull}:{q}:events", "{bull}:{q}:id", "{bull}:{q}:meta", "{bull}:{q}:stalled-check"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("keys\n got %v\nwant %v", got, want)
	}
}

// A panicking handler fails its job with the panic's stack; the worker
// goes on.
func TestWorkerPanicIsFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := mustAdd(t, b, "panic", nil)
	ok := mustAdd(t, b, "ok", nil)
	startWorker(t, b, func(ctx context.Context, j *Job) (any, error) {
		if j.Name == "panic" {
			var s []int
			_ = s[len(j.Name)] // index out of range: a runtime panic
		}
		return "fine", nil
	}, nil)
	b.waitState(t, p, StateFailed)
	b.waitState(t, ok, StateCompleted)
	h := b.hash(t, p)
	var st []string
	if err := json.Unmarshal([]byte(h["stacktrace"]), &st); err != nil || len(st) != 1 ||
		!strings.HasPrefix(st[0], "Error: panic: runtime error: index out of range") ||
		!strings.Contains(st[0], "\n    at ") {
		t.Fatalf("stacktrace %q", h["stacktrace"])
	}
	if !strings.HasPrefix(h["failedReason"], "panic: ") {
		t.Fatalf("failedReason %q", h["failedReason"])
	}
}

// A job hash with garbled fields is failed with a reason naming the
// problem; the worker keeps going.
func TestWorkerMalformedJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bad := mustAdd(t, b, "bad", nil)
	b.client.HSet(b.ctx, b.q.k.job(bad), "data", "{not json")
	noopts := mustAdd(t, b, "noopts", nil)
	b.client.HDel(b.ctx, b.q.k.job(noopts), "opts")
	good := mustAdd(t, b, "good", nil)
	var runs atomic.Int32
	startWorker(t, b, func(context.Context, *Job) (any, error) { runs.Add(1); return nil, nil }, nil)
	b.waitState(t, good, StateCompleted)
	b.waitState(t, bad, StateFailed)
	b.waitState(t, noopts, StateFailed)
	if r := b.hash(t, bad)["failedReason"]; !strings.Contains(r, "data is not valid JSON") {
		t.Fatalf("failedReason %q", r)
	}
	if r := b.hash(t, noopts)["failedReason"]; !strings.Contains(r, "opts is missing") {
		t.Fatalf("failedReason %q", r)
	}
	if runs.Load() != 1 {
		t.Fatalf("handler ran %d times", runs.Load())
	}
}

// maxStartedAttempts: a job started more often fails without running.
func TestWorkerMaxStartedAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := mustAdd(t, b, "m", &AddOptions{Attempts: 5})
	b.client.HSet(b.ctx, b.q.k.job(id), "ats", 2)
	var runs atomic.Int32
	startWorker(t, b, func(context.Context, *Job) (any, error) { runs.Add(1); return nil, nil },
		&WorkerOptions{MaxStartedAttempts: 2})
	b.waitState(t, id, StateFailed)
	if h := b.hash(t, id); h["failedReason"] != "job started more than allowable limit" || runs.Load() != 0 {
		t.Fatalf("hash %v runs %d", h, runs.Load())
	}
}

// Checklist 34 (Go side): progress and logs honouring keepLogs.
func TestJobProgressAndLogs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := mustAdd(t, b, "p", &AddOptions{KeepLogs: 2})
	startWorker(t, b, func(ctx context.Context, j *Job) (any, error) {
		if err := j.UpdateProgress(ctx, map[string]int{"p": 50}); err != nil {
			return nil, err
		}
		for _, l := range []string{"one", "two", "three"} {
			if err := j.Log(ctx, l); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}, nil)
	b.waitState(t, id, StateCompleted)
	if p := b.hash(t, id)["progress"]; p != `{"p":50}` {
		t.Fatalf("progress %q", p)
	}
	if got := b.client.LRange(b.ctx, b.q.k.logs(id), 0, -1).Val(); !reflect.DeepEqual(got, []string{"two", "three"}) {
		t.Fatalf("logs %v", got)
	}
	var pe event
	for _, e := range b.events(t) {
		if e["event"] == "progress" {
			pe = e
		}
	}
	if pe["jobId"] != id || pe["data"] != `{"p":50}` {
		t.Fatalf("progress event %v", pe)
	}
	j, _ := b.q.GetJob(b.ctx, "nope")
	if j != nil {
		t.Fatal("unexpected job")
	}
	gone := &Job{ID: "nope", q: b.q}
	if err := gone.UpdateProgress(b.ctx, 1); !errors.Is(err, ErrJobNotFound) {
		t.Fatalf("progress on a missing job: %v", err)
	}
}
