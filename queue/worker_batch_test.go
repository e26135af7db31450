package queue

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// finishCallHook records the records (kind:id) of every moveToFinished
// call and, while hold returns true for a call about to be sent, keeps it
// from Redis (bounded by holdMax), so finishes pile up behind it.
type finishCallHook struct {
	sha     string
	holdMax time.Duration
	hold    func(call int) bool

	mu    sync.Mutex
	calls [][]string
}

func (*finishCallHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (*finishCallHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *finishCallHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		a := cmd.Args()
		if len(a) < 4 || a[0] != "evalsha" || a[1] != h.sha {
			return next(ctx, cmd)
		}
		h.mu.Lock()
		n := len(h.calls)
		h.calls = append(h.calls, finishRecords(a[4:]))
		h.mu.Unlock()
		for end := time.Now().Add(h.holdMax); h.hold != nil && h.hold(n) && time.Now().Before(end); {
			time.Sleep(5 * time.Millisecond)
		}
		return next(ctx, cmd)
	}
}

func (h *finishCallHook) snapshot() [][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

// finishRecords lists a moveToFinished ARGV's records as "kind:id".
func finishRecords(argv []any) []string {
	var out []string
	for i := finishHeaderArgs; i+1 < len(argv); {
		kind, _ := argv[i].(string)
		id, _ := argv[i+1].(string)
		out = append(out, kind+":"+id)
		switch kind {
		case "f":
			i += 8
		default:
			i += 6
		}
	}
	return out
}

func (w *Worker) pendingFinishes() int {
	w.batch.mu.Lock()
	defer w.batch.mu.Unlock()
	return len(w.batch.pending)
}

// Group commit with every outcome in one call: while the first finish is
// held in flight, six others queue up and go in ONE moveToFinished call —
// a completion, a retry at once, a retry after a backoff, a final failure,
// a completion whose lock was lost (-6) and one refused for a pending
// child (-4). Each job gets its own outcome, events and state, in order.
func TestFinishBatchMixedOutcomes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := redis.NewClient(b.srv.Options())
	t.Cleanup(func() { _ = c.Close() })
	if err := scriptMoveToFinished.load(b.ctx, c); err != nil {
		t.Fatal(err)
	}
	var w *Worker
	hook := &finishCallHook{sha: scriptMoveToFinished.s.Hash(), holdMax: 30 * time.Second,
		hold: func(call int) bool { return call == 0 && w.pendingFinishes() < 6 }}
	c.AddHook(hook)

	ids := map[string]string{}
	add := func(name string, o *AddOptions) { ids[name] = mustAdd(t, b, name, o) }
	add("blocker", nil)
	add("ok", nil)
	add("retry", &AddOptions{Attempts: 2})
	add("delay", &AddOptions{Attempts: 2, Backoff: &Backoff{Type: "fixed", Delay: 300 * time.Millisecond}})
	add("final", &AddOptions{Attempts: 1})
	add("lost", nil)
	add("pending", nil)

	rec := &recorder{}
	var err error
	w, err = NewWorker(c, b.name, func(ctx context.Context, j *Job) (any, error) {
		switch j.Name {
		case "retry", "delay":
			if j.AttemptsMade == 0 {
				return nil, errors.New("boom-" + j.Name)
			}
			return j.Name + "-2", nil
		case "final":
			return nil, errors.New("boom-final")
		case "lost":
			// another worker took the job over: its lock is not ours any more
			return nil, c.Set(ctx, b.q.k.lock(j.ID), "someone-else", time.Minute).Err()
		case "pending":
			return nil, c.SAdd(ctx, b.q.k.job(j.ID)+":dependencies", "bull:other:1").Err()
		}
		return j.Name, nil
	}, &WorkerOptions{Concurrency: 7, OnEvent: rec.on, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Close(ctx)
	})

	for _, n := range []string{"blocker", "ok", "retry", "delay"} {
		b.waitState(t, ids[n], StateCompleted)
	}
	b.waitState(t, ids["final"], StateFailed)
	b.waitState(t, ids["pending"], StateFailed)
	waitFor(t, 10*time.Second, "lockLost event", func() bool { return rec.count(EventLockLost) == 1 })

	calls := hook.snapshot()
	if len(calls) < 2 || len(calls[0]) != 1 || calls[0][0] != "c:"+ids["blocker"] {
		t.Fatalf("moveToFinished calls %v: want the blocker alone first", calls)
	}
	got := slices.Clone(calls[1])
	slices.Sort(got)
	want := []string{"c:" + ids["ok"], "c:" + ids["lost"], "c:" + ids["pending"],
		"d:" + ids["delay"], "f:" + ids["final"], "r:" + ids["retry"]}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("second moveToFinished call carried %v, want the six queued finishes %v (all calls %v)", calls[1], want, calls)
	}

	for name, rv := range map[string]string{"blocker": `"blocker"`, "ok": `"ok"`, "retry": `"retry-2"`, "delay": `"delay-2"`} {
		h := b.hash(t, ids[name])
		wantAtm := "1"
		if name == "retry" || name == "delay" {
			wantAtm = "2"
		}
		if h["returnvalue"] != rv || h["atm"] != wantAtm || h["finishedOn"] == "" {
			t.Errorf("%s: hash %v, want returnvalue %s atm %s", name, h, rv, wantAtm)
		}
	}
	if h := b.hash(t, ids["final"]); h["failedReason"] != "boom-final" || h["atm"] != "1" {
		t.Errorf("final: hash %v", h)
	}
	if h := b.hash(t, ids["pending"]); !strings.Contains(h["failedReason"], "pending dependencies") {
		t.Errorf("pending: hash %v", h)
	}
	if h := b.hash(t, ids["lost"]); h["finishedOn"] != "" || h["atm"] != "" || b.state(t, ids["lost"]) != StateActive {
		t.Errorf("lost: a refused finish changed the job: state %s hash %v", b.state(t, ids["lost"]), h)
	}

	start := []string{"added", "waiting", "active/waiting"}
	wantEv := map[string][]string{
		"ok":      append(slices.Clone(start), "completed/active"),
		"retry":   append(slices.Clone(start), "waiting/active", "active/waiting", "completed/active"),
		"delay":   append(slices.Clone(start), "delayed", "waiting/delayed", "active/waiting", "completed/active"),
		"final":   append(slices.Clone(start), "failed/active", "retries-exhausted"),
		"lost":    start,
		"pending": append(slices.Clone(start), "failed/active", "retries-exhausted"),
	}
	for name, we := range wantEv {
		if ge := b.eventsOf(t, ids[name]); !slices.Equal(ge, we) {
			t.Errorf("%s: events %v, want %v", name, ge, we)
		}
	}
	for typ, n := range map[WorkerEventType]int{EventCompleted: 4, EventFailed: 2, EventRetrying: 2, EventLockLost: 1} {
		if got := rec.count(typ); got != n {
			t.Errorf("%d %s events, want %d", got, typ, n)
		}
	}
}

// Under steady load finishes share calls: 200 jobs at concurrency 10, each
// finish call held until a second finish queues behind it (at most 200 ms),
// take far fewer calls than jobs, and every job completes with its value.
func TestFinishBatchingUnderLoad(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := redis.NewClient(b.srv.Options())
	t.Cleanup(func() { _ = c.Close() })
	if err := scriptMoveToFinished.load(b.ctx, c); err != nil {
		t.Fatal(err)
	}
	var w *Worker
	hook := &finishCallHook{sha: scriptMoveToFinished.s.Hash(), holdMax: 200 * time.Millisecond,
		hold: func(int) bool { return w.pendingFinishes() < 1 }}
	c.AddHook(hook)
	const n = 200
	jobs := make([]BulkJob, n)
	for i := range jobs {
		jobs[i] = BulkJob{Name: "j", Data: i}
	}
	added, err := b.q.AddBulk(b.ctx, jobs)
	if err != nil {
		t.Fatal(err)
	}
	var done atomic.Int32
	w, err = NewWorker(c, b.name, func(_ context.Context, j *Job) (any, error) {
		return j.ID, nil
	}, &WorkerOptions{Concurrency: 10, Logger: testLogger(t), OnEvent: func(ev WorkerEvent) {
		if ev.Type == EventCompleted {
			done.Add(1)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Close(ctx)
	})
	waitFor(t, 60*time.Second, "200 completions", func() bool { return done.Load() == n })
	records := 0
	calls := hook.snapshot()
	for _, cl := range calls {
		records += len(cl)
	}
	if records != n || len(calls) > n/2 {
		t.Fatalf("%d moveToFinished calls carried %d records for %d jobs: want every job once, in at most %d calls",
			len(calls), records, n, n/2)
	}
	t.Logf("%d jobs finished in %d moveToFinished calls", n, len(calls))
	for _, j := range added {
		if h := b.hash(t, j.ID); h["returnvalue"] != `"`+j.ID+`"` {
			t.Fatalf("job %s: hash %v", j.ID, h)
		}
	}
}

// Metrics recorded inside the finish call, per minute of the worker's
// clock: the jobs of one minute are counted, a data point is pushed when
// the minute changes (a batch of finishes counts as its jobs one by one).
// A zero or negative MaxDataPoints is refused.
func TestWorkerMetricsPerMinute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := NewWorker(b.client, b.name, func(context.Context, *Job) (any, error) { return nil, nil },
		&WorkerOptions{Metrics: &MetricsOptions{}}); !errors.Is(err, ErrInvalidOption) ||
		!strings.Contains(err.Error(), "Metrics") {
		t.Fatalf("MaxDataPoints 0: err %v, want an option error naming Metrics", err)
	}
	t0 := time.Date(2026, 11, 29, 8, 0, 10, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(t0.UnixMilli())
	var done atomic.Int32
	startWorker(t, b, func(_ context.Context, j *Job) (any, error) {
		if j.Name == "f" {
			return nil, errors.New("no")
		}
		return nil, nil
	}, &WorkerOptions{Concurrency: 4, Metrics: &MetricsOptions{MaxDataPoints: 10},
		Now: func() time.Time { return time.UnixMilli(clock.Load()) },
		OnEvent: func(ev WorkerEvent) {
			if ev.Type == EventCompleted || ev.Type == EventFailed {
				done.Add(1)
			}
		}})
	add := func(names ...string) {
		for _, n := range names {
			mustAdd(t, b, n, nil)
		}
	}
	add("c", "c", "c", "f", "c")
	waitFor(t, 20*time.Second, "5 finishes", func() bool { return done.Load() == 5 })
	clock.Store(t0.Add(55 * time.Second).UnixMilli()) // 08:01:05: the next minute
	add("c", "c")
	waitFor(t, 20*time.Second, "7 finishes", func() bool { return done.Load() == 7 })

	m, err := b.q.GetMetrics(b.ctx, "completed", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Count != 6 || m.PrevCount != 4 || m.PrevTS != t0.Add(55*time.Second).UnixMilli() ||
		len(m.Data) != 1 || m.Data[0] != 4 {
		t.Errorf("completed metrics %+v, want count 6, prevCount 4, prevTS 08:01:05, data [4]", m)
	}
	f, err := b.q.GetMetrics(b.ctx, "failed", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if f.Count != 1 || f.PrevCount != 0 || f.PrevTS != t0.UnixMilli() || len(f.Data) != 0 {
		t.Errorf("failed metrics %+v, want count 1 at 08:00:10, no data point", f)
	}
}

// A script error in a batch (here WRONGTYPE: one job's hash replaced by a
// string while it ran) stops the call midway, the records before it
// applied: the worker re-sends each record alone, so the healthy job is
// reported completed (even when the batch had already completed and
// removed it) and only the broken one gets the error.
func TestFinishBatchScriptErrorFallsBackToSingles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := redis.NewClient(b.srv.Options())
	t.Cleanup(func() { _ = c.Close() })
	if err := scriptMoveToFinished.load(b.ctx, c); err != nil {
		t.Fatal(err)
	}
	var w *Worker
	hook := &finishCallHook{sha: scriptMoveToFinished.s.Hash(), holdMax: 30 * time.Second,
		hold: func(call int) bool { return call == 0 && w.pendingFinishes() < 4 }}
	c.AddHook(hook)
	ids := map[string]string{}
	for _, n := range []string{"blocker", "ok1", "broken", "ok2", "ok3"} {
		ids[n] = mustAdd(t, b, n, nil)
	}
	rec := &recorder{}
	var err error
	w, err = NewWorker(c, b.name, func(ctx context.Context, j *Job) (any, error) {
		if j.Name == "broken" {
			k := b.q.k.job(j.ID)
			if err := c.Del(ctx, k).Err(); err != nil {
				return nil, err
			}
			return nil, c.Set(ctx, k, "not a hash", 0).Err()
		}
		return j.Name, nil
	}, &WorkerOptions{Concurrency: 5, OnEvent: rec.on, Logger: testLogger(t), RemoveOnComplete: RemoveAll()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Close(ctx)
	})
	waitFor(t, 20*time.Second, "4 completions and 1 error", func() bool {
		return rec.count(EventCompleted) == 4 && rec.count(EventError) == 1
	})
	calls := hook.snapshot()
	if len(calls) < 2 || len(calls[1]) != 4 {
		t.Fatalf("moveToFinished calls %v: want the 4 queued finishes in the second", calls)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, ev := range rec.evs {
		switch ev.Type {
		case EventError:
			if ev.JobID != ids["broken"] || !strings.Contains(ev.Err.Error(), "WRONGTYPE") {
				t.Errorf("error event for job %s: %v; want job %s's WRONGTYPE", ev.JobID, ev.Err, ids["broken"])
			}
		case EventLockLost:
			t.Errorf("lockLost for job %s: %v", ev.JobID, ev.Err)
		}
	}
	for _, n := range []string{"ok1", "ok2", "ok3"} {
		if st := b.state(t, ids[n]); st != StateUnknown {
			t.Errorf("%s: state %s, want removed on completion", n, st)
		}
	}
}
