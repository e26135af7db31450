package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fetch runs moveToActive directly (no loops) and returns the reply and
// the token used.
func fetch(t *testing.T, w *Worker) (fetchReply, string) {
	t.Helper()
	tok := w.newToken()
	r, err := w.moveToActive(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	return r, tok
}

func mustAdd(t *testing.T, b *bundle, name string, o *AddOptions) string {
	t.Helper()
	j, err := b.q.Add(b.ctx, name, map[string]string{"n": name}, o)
	if err != nil {
		t.Fatal(err)
	}
	return j.ID
}

// orderRecorder records the names of started jobs.
type orderRecorder struct {
	mu    sync.Mutex
	names []string
}

func (o *orderRecorder) handler(ctx context.Context, j *Job) (any, error) {
	o.mu.Lock()
	o.names = append(o.names, j.Name)
	o.mu.Unlock()
	return nil, nil
}

func (o *orderRecorder) get() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.names...)
}

// Checklist 4: FIFO start order, and lifo jumps the line.
func TestConformance04_StartOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		lifo bool
		want []string
	}{
		{"fifo", false, []string{"A", "B", "C"}},
		{"lifo", true, []string{"C", "A", "B"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			mustAdd(t, b, "A", nil)
			mustAdd(t, b, "B", nil)
			mustAdd(t, b, "C", &AddOptions{LIFO: tc.lifo})
			or := &orderRecorder{}
			startWorker(t, b, or.handler, nil)
			waitFor(t, 10*time.Second, "3 starts", func() bool { return len(or.get()) == 3 })
			if got := or.get(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("order %v, want %v", got, tc.want)
			}
		})
	}
}

// Checklist 5: prioritized score and start order.
func TestConformance05_Priority(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mustAdd(t, b, "p5a", &AddOptions{Priority: 5})
	mustAdd(t, b, "p1", &AddOptions{Priority: 1})
	mustAdd(t, b, "n1", nil)
	mustAdd(t, b, "p5b", &AddOptions{Priority: 5})
	mustAdd(t, b, "n2", nil)
	// score = p·2^32 + INCR pc
	if s := b.client.ZScore(b.ctx, b.q.k.prioritized(), "1").Val(); s != float64(5<<32+1) {
		t.Fatalf("score of p5a = %v", s)
	}
	if s := b.client.ZScore(b.ctx, b.q.k.prioritized(), "4").Val(); s != float64(5<<32+3) {
		t.Fatalf("score of p5b = %v", s)
	}
	or := &orderRecorder{}
	startWorker(t, b, or.handler, nil)
	waitFor(t, 10*time.Second, "5 starts", func() bool { return len(or.get()) == 5 })
	if got, want := or.get(), []string{"n1", "n2", "p1", "p5a", "p5b"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if b.client.Exists(b.ctx, b.q.k.pc()).Val() != 0 {
		t.Fatal("pc not deleted once prioritized ran empty")
	}
}

// Checklist 6: delayed score, marker 1, event, promotion on time.
func TestConformance06_Delayed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := &recorder{}
	started := make(chan int64, 1)
	startWorker(t, b, func(ctx context.Context, j *Job) (any, error) {
		started <- time.Now().UnixMilli()
		return nil, nil
	}, &WorkerOptions{OnEvent: rec.on})
	// Let the worker go idle (blocking on the marker) first.
	waitFor(t, 5*time.Second, "worker blocking", func() bool {
		return strings.Contains(b.client.ClientList(b.ctx).Val(), "cmd=bzpopmin")
	})
	ts := time.Now()
	T := ts.UnixMilli()
	const delay = 1000
	id := mustAdd(t, b, "d", &AddOptions{Delay: delay * time.Millisecond, Timestamp: ts})
	if s := b.client.ZScore(b.ctx, b.q.k.delayed(), id).Val(); s != float64((T+delay)*4096) {
		t.Fatalf("delayed score %v, want %v", s, (T+delay)*4096)
	}
	// marker 1 may already have been consumed by the blocked worker; the
	// event carries the absolute due time.
	evs := b.eventsOf(t, id)
	if !reflect.DeepEqual(evs, []string{"added", "delayed"}) {
		t.Fatalf("events %v", evs)
	}
	for _, e := range b.events(t) {
		if e["event"] == "delayed" && e["delay"] != fmt.Sprint(T+delay) {
			t.Fatalf("delayed event delay=%s want %d", e["delay"], T+delay)
		}
	}
	select {
	case at := <-started:
		if at < T+delay || at > T+delay+1000 {
			t.Fatalf("started at T+%d ms, want within [T+%d, T+%d]", at-T, delay, delay+1000)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("delayed job never started")
	}
	b.waitState(t, id, StateCompleted)
	if got := b.eventsOf(t, id); !reflect.DeepEqual(got[:4], []string{"added", "delayed", "waiting/delayed", "active/waiting"}) {
		t.Fatalf("events %v", got)
	}
	if d := b.hash(t, id)["delay"]; d != "0" {
		t.Fatalf("hash delay = %s after promotion", d)
	}
}

// Checklist 6 (marker part): a delayed add writes marker 1 = due time.
func TestConformance06_DelayedMarker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := time.Now()
	mustAdd(t, b, "d", &AddOptions{Delay: 5 * time.Second, Timestamp: ts})
	if s, err := b.client.ZScore(b.ctx, b.q.k.marker(), "1").Result(); err != nil || int64(s) != ts.UnixMilli()+5000 {
		t.Fatalf("marker 1 = %v (%v), want %d", s, err, ts.UnixMilli()+5000)
	}
}

// Checklist 7: same-millisecond delayed jobs get k = 0, 1, 2 and run in order.
func TestConformance07_DelayedTieBreak(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := time.Now()
	due := ts.UnixMilli() + 300
	var ids []string
	for _, n := range []string{"x", "y", "z"} {
		ids = append(ids, mustAdd(t, b, n, &AddOptions{Delay: 300 * time.Millisecond, Timestamp: ts}))
	}
	for k, id := range ids {
		if s := b.client.ZScore(b.ctx, b.q.k.delayed(), id).Val(); s != float64(due*4096+int64(k)) {
			t.Fatalf("job %s score %v, want due·4096+%d", id, s, k)
		}
	}
	or := &orderRecorder{}
	startWorker(t, b, or.handler, nil)
	waitFor(t, 10*time.Second, "3 starts", func() bool { return len(or.get()) == 3 })
	if got := or.get(); !reflect.DeepEqual(got, []string{"x", "y", "z"}) {
		t.Fatalf("order %v", got)
	}
}

// Checklist 10: global concurrency 1 holds across workers; no marker 0
// while maxed.
func TestConformance10_GlobalConcurrency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.q.SetGlobalConcurrency(b.ctx, 1); err != nil {
		t.Fatal(err)
	}
	var running, maxRunning atomic.Int32
	var done atomic.Int32
	release := make(chan struct{})
	h := func(ctx context.Context, j *Job) (any, error) {
		n := running.Add(1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		if j.Name == "first" {
			<-release
		} else {
			time.Sleep(5 * time.Millisecond)
		}
		running.Add(-1)
		done.Add(1)
		return nil, nil
	}
	first := mustAdd(t, b, "first", nil)
	startWorker(t, b, h, &WorkerOptions{Concurrency: 4})
	startWorker(t, b, h, &WorkerOptions{Concurrency: 4})
	b.waitState(t, first, StateActive)
	b.client.Del(b.ctx, b.q.k.marker())
	mustAdd(t, b, "other", nil)
	if n := b.client.Exists(b.ctx, b.q.k.marker()).Val(); n != 0 {
		t.Fatal("add wrote marker 0 while the queue was at its global concurrency")
	}
	for i := 0; i < 10; i++ {
		mustAdd(t, b, "more", nil)
	}
	close(release)
	waitFor(t, 15*time.Second, "12 jobs done", func() bool { return done.Load() == 12 })
	if m := maxRunning.Load(); m != 1 {
		t.Fatalf("max running = %d, want 1", m)
	}
}

// Checklist 18: a fetch moves the tail of wait to the head of active with
// lock, processedOn, ats, pb, `active` event and marker 0.
func TestConformance18_FetchMovesToActive(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, worker string }{{"named", "w1"}, {"unnamed", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			a := mustAdd(t, b, "a", nil)
			mustAdd(t, b, "b", nil)
			b.client.LPush(b.ctx, b.q.k.active(), "other")
			b.client.Del(b.ctx, b.q.k.marker())
			w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil },
				&WorkerOptions{Name: tc.worker, LockDuration: 5 * time.Second})
			before := time.Now().UnixMilli()
			r, tok := fetch(t, w)
			if r.id != a {
				t.Fatalf("fetched %q, want the tail of wait %q", r.id, a)
			}
			if got := b.client.LRange(b.ctx, b.q.k.active(), 0, -1).Val(); !reflect.DeepEqual(got, []string{a, "other"}) {
				t.Fatalf("active = %v", got)
			}
			if got := b.client.Get(b.ctx, b.q.k.lock(a)).Val(); got != tok || !strings.HasPrefix(tok, w.uuid+":") {
				t.Fatalf("lock = %q, token %q", got, tok)
			}
			if pttl := b.client.PTTL(b.ctx, b.q.k.lock(a)).Val(); pttl <= 4*time.Second || pttl > 5*time.Second {
				t.Fatalf("lock PTTL %v", pttl)
			}
			h := b.hash(t, a)
			if po := atoi64(h["processedOn"]); po < before || po > time.Now().UnixMilli() {
				t.Fatalf("processedOn %s", h["processedOn"])
			}
			if h["ats"] != "1" || h["pb"] != tc.worker {
				t.Fatalf("ats %q pb %q", h["ats"], h["pb"])
			}
			job, err := jobFromHash(r.id, fieldsToMap(r.fields))
			if err != nil || job.Name != "a" || job.AttemptsStarted != 1 {
				t.Fatalf("returned job %+v %v", job, err)
			}
			if got := b.eventsOf(t, a); got[len(got)-1] != "active/waiting" {
				t.Fatalf("events %v", got)
			}
			if _, err := b.client.ZScore(b.ctx, b.q.k.marker(), "0").Result(); err != nil {
				t.Fatal("marker 0 not upserted on fetch")
			}
		})
	}
}

// Checklist 19: completion state, return value and event.
func TestConformance19_Complete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := mustAdd(t, b, "c", nil)
	w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil }, nil)
	r, tok := fetch(t, w)
	job, _ := jobFromHash(r.id, fieldsToMap(r.fields))
	b.client.SAdd(b.ctx, b.q.k.stalled(), id)
	w.closing.Store(true) // no fetch-next
	next, _, ok := w.complete(job, tok, `{"ok":true,"n":[1,2]}`)
	if !ok || next.id != "" {
		t.Fatalf("complete: %v %+v", ok, next)
	}
	if b.client.Exists(b.ctx, b.q.k.lock(id)).Val() != 0 || b.client.LLen(b.ctx, b.q.k.active()).Val() != 0 ||
		b.client.SIsMember(b.ctx, b.q.k.stalled(), id).Val() {
		t.Fatal("lock, active or stalled entry left")
	}
	h := b.hash(t, id)
	if s := b.client.ZScore(b.ctx, b.q.k.completed(), id).Val(); int64(s) != atoi64(h["finishedOn"]) || s == 0 {
		t.Fatalf("completed score %v, finishedOn %s", s, h["finishedOn"])
	}
	if h["returnvalue"] != `{"ok":true,"n":[1,2]}` || h["atm"] != "1" {
		t.Fatalf("hash %v", h)
	}
	evs := b.events(t)
	last := evs[len(evs)-2] // then `drained`
	if last["event"] != "completed" || last["returnvalue"] != h["returnvalue"] || last["prev"] != "active" {
		t.Fatalf("completed event %v", last)
	}
	if evs[len(evs)-1]["event"] != "drained" {
		t.Fatalf("last event %v", evs[len(evs)-1])
	}
}

func countEvents(evs []event, name string) int {
	n := 0
	for _, e := range evs {
		if e["event"] == name {
			n++
		}
	}
	return n
}

// Checklist 20: exactly one `drained` when the queue empties; none while a
// job is delayed.
func TestConformance20_Drained(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		delayed bool
		want    int
	}{{"empty", false, 1}, {"with-delayed", true, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			for i := 0; i < 6; i++ {
				mustAdd(t, b, "j", nil)
			}
			if tc.delayed {
				mustAdd(t, b, "later", &AddOptions{Delay: time.Hour})
			}
			rec := &recorder{}
			startWorker(t, b, func(context.Context, *Job) (any, error) {
				time.Sleep(2 * time.Millisecond)
				return nil, nil
			}, &WorkerOptions{Concurrency: 2, OnEvent: rec.on})
			waitFor(t, 10*time.Second, "6 completions", func() bool { return rec.count(EventCompleted) == 6 })
			time.Sleep(200 * time.Millisecond) // a second drained would come from the last finishes
			if n := countEvents(b.events(t), "drained"); n != tc.want {
				t.Fatalf("%d drained events, want %d", n, tc.want)
			}
		})
	}
}

// Checklist 21: exponential backoff, then final failure.
func TestConformance21_BackoffThenFail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := mustAdd(t, b, "f", &AddOptions{Attempts: 3, Backoff: &Backoff{Type: "exponential", Delay: 100 * time.Millisecond}})
	var mu sync.Mutex
	var failedAt []int64
	rec := &recorder{}
	startWorker(t, b, func(context.Context, *Job) (any, error) {
		mu.Lock()
		failedAt = append(failedAt, time.Now().UnixMilli())
		mu.Unlock()
		return nil, errors.New("boom: always")
	}, &WorkerOptions{OnEvent: rec.on})
	b.waitState(t, id, StateFailed)
	var dues []int64
	for _, e := range b.events(t) {
		if e["event"] == "delayed" && e["jobId"] == id {
			dues = append(dues, atoi64(e["delay"]))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dues) != 2 || len(failedAt) != 3 {
		t.Fatalf("delayed dues %v, runs %v", dues, failedAt)
	}
	for i, want := range []int64{100, 200} {
		if d := dues[i] - failedAt[i]; d < want || d > want+100 {
			t.Fatalf("retry %d due %d ms after the failure, want ≈ %d", i+1, d, want)
		}
		if failedAt[i+1] < dues[i] {
			t.Fatalf("attempt %d ran before its due time", i+2)
		}
	}
	h := b.hash(t, id)
	var st []string
	if err := json.Unmarshal([]byte(h["stacktrace"]), &st); err != nil || len(st) != 3 {
		t.Fatalf("stacktrace %s (%v)", h["stacktrace"], err)
	}
	if h["failedReason"] != "boom: always" || h["atm"] != "3" || h["delay"] != "0" {
		t.Fatalf("hash %v", h)
	}
	evs := b.events(t)
	var ex event
	for _, e := range evs {
		if e["event"] == "retries-exhausted" {
			ex = e
		}
	}
	if ex == nil || ex["jobId"] != id || ex["attemptsMade"] != "3" {
		t.Fatalf("retries-exhausted %v", ex)
	}
	if got := b.eventsOf(t, id); got[len(got)-2] != "failed/active" {
		t.Fatalf("events %v", got)
	}
}

// Checklist 22: retry without backoff goes back to wait / prioritized.
func TestConformance22_RetryNoBackoff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts *AddOptions
		want func(b *bundle, id string) bool
	}{
		{"fifo", &AddOptions{Attempts: 2}, func(b *bundle, id string) bool {
			l := b.client.LRange(b.ctx, b.q.k.wait(), 0, -1).Val()
			return len(l) == 3 && l[0] == id // LPUSH: head = last to run
		}},
		{"lifo", &AddOptions{Attempts: 2, LIFO: true}, func(b *bundle, id string) bool {
			l := b.client.LRange(b.ctx, b.q.k.wait(), 0, -1).Val()
			return len(l) == 3 && l[2] == id // RPUSH: tail = next
		}},
		{"prioritized", &AddOptions{Attempts: 2, Priority: 3}, func(b *bundle, id string) bool {
			_, err := b.client.ZScore(b.ctx, b.q.k.prioritized(), id).Result()
			return err == nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			id := mustAdd(t, b, "r", tc.opts)
			w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil }, nil)
			r, tok := fetch(t, w)
			mustAdd(t, b, "x", nil)
			mustAdd(t, b, "y", nil)
			job, _ := jobFromHash(r.id, fieldsToMap(r.fields))
			w.fail(job, tok, errors.New("once"), "")
			if !tc.want(b, id) {
				t.Fatalf("job not re-queued as expected: wait %v", b.client.LRange(b.ctx, b.q.k.wait(), 0, -1).Val())
			}
			h := b.hash(t, id)
			if h["atm"] != "1" || h["failedReason"] != "once" {
				t.Fatalf("hash %v", h)
			}
			if got := b.eventsOf(t, id); got[len(got)-1] != "waiting/active" {
				t.Fatalf("events %v", got)
			}
			if b.client.Exists(b.ctx, b.q.k.lock(id)).Val() != 0 {
				t.Fatal("lock left")
			}
		})
	}
}

// Checklist 23: unrecoverable failures are final; retries-exhausted only
// when atm ≥ attempts.
func TestConformance23_Unrecoverable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		attempts  int
		exhausted bool
	}{{5, false}, {1, true}, {0, true}} {
		t.Run(fmt.Sprint(tc.attempts), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			id := mustAdd(t, b, "u", &AddOptions{Attempts: tc.attempts, Backoff: &Backoff{Type: "fixed", Delay: time.Millisecond}})
			var runs atomic.Int32
			startWorker(t, b, func(context.Context, *Job) (any, error) {
				runs.Add(1)
				return nil, Unrecoverable(errors.New("bad input"))
			}, nil)
			b.waitState(t, id, StateFailed)
			evs := b.events(t)
			if got := countEvents(evs, "retries-exhausted"); (got == 1) != tc.exhausted {
				t.Fatalf("retries-exhausted events %d, want %v", got, tc.exhausted)
			}
			if h := b.hash(t, id); h["atm"] != "1" || h["failedReason"] != "bad input" || runs.Load() != 1 {
				t.Fatalf("hash %v runs %d", h, runs.Load())
			}
		})
	}
}

// Checklist 24: retention on completion.
func TestConformance24_Retention(t *testing.T) {
	t.Parallel()
	t.Run("true", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := mustAdd(t, b, "r", &AddOptions{RemoveOnComplete: RemoveAll()})
		startWorker(t, b, func(ctx context.Context, j *Job) (any, error) {
			// as a stalled check would mark it: the finish must clear it
			if err := b.client.SAdd(ctx, b.q.k.stalled(), j.ID).Err(); err != nil {
				return nil, err
			}
			return "x", j.Log(ctx, "a line")
		}, nil)
		waitFor(t, 10*time.Second, "completed event", func() bool { return countEvents(b.events(t), "completed") == 1 })
		if n := b.client.Exists(b.ctx, b.q.k.job(id), b.q.k.logs(id), b.q.k.lock(id)).Val(); n != 0 {
			t.Fatalf("%d job keys left", n)
		}
		if b.client.SIsMember(b.ctx, b.q.k.stalled(), id).Val() {
			t.Fatal("id left in the stalled set")
		}
		if b.client.ZCard(b.ctx, b.q.k.completed()).Val() != 0 {
			t.Fatal("id left in completed")
		}
	})
	t.Run("count", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var ids []string
		ids = append(ids, mustAdd(t, b, "plain", nil))
		for i := 0; i < 4; i++ {
			ids = append(ids, mustAdd(t, b, "keep2", &AddOptions{RemoveOnComplete: KeepLast(2)}))
		}
		rec := &recorder{}
		startWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil }, &WorkerOptions{OnEvent: rec.on})
		waitFor(t, 10*time.Second, "5 completions", func() bool { return rec.count(EventCompleted) == 5 })
		got := b.client.ZRange(b.ctx, b.q.k.completed(), 0, -1).Val()
		if !reflect.DeepEqual(got, ids[3:]) {
			t.Fatalf("completed = %v, want %v", got, ids[3:])
		}
		if b.client.Exists(b.ctx, b.q.k.job(ids[0])).Val() != 0 {
			t.Fatal("trimmed job without the option kept its hash")
		}
	})
	t.Run("age", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		now := time.Now().UnixMilli()
		b.client.ZAdd(b.ctx, b.q.k.completed(), redisZ(float64(now-5000), "old"), redisZ(float64(now-100), "young"))
		b.client.HSet(b.ctx, b.q.k.job("old"), "name", "old")
		b.client.HSet(b.ctx, b.q.k.job("young"), "name", "young")
		id := mustAdd(t, b, "a", &AddOptions{RemoveOnComplete: KeepFor(2*time.Second, -1)})
		startWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil }, nil)
		b.waitState(t, id, StateCompleted)
		got := b.client.ZRange(b.ctx, b.q.k.completed(), 0, -1).Val()
		if !reflect.DeepEqual(got, []string{"young", id}) || b.client.Exists(b.ctx, b.q.k.job("old")).Val() != 0 {
			t.Fatalf("completed = %v", got)
		}
	})
	t.Run("worker-fallback", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		none := mustAdd(t, b, "none", nil)
		kept := mustAdd(t, b, "keep", &AddOptions{RemoveOnComplete: KeepAll()})
		rec := &recorder{}
		startWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil },
			&WorkerOptions{RemoveOnComplete: RemoveAll(), OnEvent: rec.on})
		waitFor(t, 10*time.Second, "2 completions", func() bool { return rec.count(EventCompleted) == 2 })
		if b.client.Exists(b.ctx, b.q.k.job(none)).Val() != 0 {
			t.Fatal("worker option not applied to a job without one")
		}
		if b.state(t, kept) != StateCompleted {
			t.Fatal("job's own `false` did not beat the worker option")
		}
	})
}

// Checklist 39: getState for every state.
func TestConformance39_GetState(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil }, nil)
	w.closing.Store(true) // no fetch-next in the direct finishes below
	ids := map[JobState]string{}
	ids[StateCompleted] = mustAdd(t, b, "c", nil)
	r, tok := fetch(t, w)
	j, _ := jobFromHash(r.id, fieldsToMap(r.fields))
	w.complete(j, tok, "1")
	ids[StateFailed] = mustAdd(t, b, "f", nil)
	r, tok = fetch(t, w)
	j, _ = jobFromHash(r.id, fieldsToMap(r.fields))
	w.fail(j, tok, errors.New("x"), "")
	ids[StateActive] = mustAdd(t, b, "a", nil)
	fetch(t, w)
	ids[StateWaiting] = mustAdd(t, b, "w", nil)
	ids[StatePrioritized] = mustAdd(t, b, "p", &AddOptions{Priority: 2})
	ids[StateDelayed] = mustAdd(t, b, "d", &AddOptions{Delay: time.Hour})
	b.client.ZAdd(b.ctx, b.q.k.waitingChildren(), redisZ(1, "parent"))
	ids[StateWaitingChildren] = "parent"
	ids[StateUnknown] = "nope"
	for want, id := range ids {
		if got := b.state(t, id); got != want {
			t.Errorf("job %s: state %s, want %s", id, got, want)
		}
	}
}
