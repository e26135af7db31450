package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zyeute/zyeute-redis/internal/redistest"
)

// Issue 9, item 4: a completion refused because the job still has pending
// dependencies (−4) becomes a failure of that job, as Node's worker turns
// the script's refusal into the error "Job <id> has pending dependencies.
// moveToFinished" and fails (or retries) the job with it. Before, the job
// stayed in active, its lock expired and the handler ran a second time.
func TestIssue9Item4_PendingDependenciesFailsJob(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		attempts int
		runs     int32
	}{{"one-attempt", 0, 1}, {"two-attempts", 2, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			// A continueParentOnFailure parent released while a sibling still
			// runs: in wait, with one child key still in :dependencies.
			id := mustAdd(t, b, "parent", &AddOptions{Attempts: tc.attempts})
			b.client.SAdd(b.ctx, b.q.k.job(id)+":dependencies", b.q.k.base+"elsewhere:7")
			var runs atomic.Int32
			rec := &recorder{}
			startWorker(t, b, func(context.Context, *Job) (any, error) {
				runs.Add(1)
				return "done", nil
			}, &WorkerOptions{OnEvent: rec.on, StalledInterval: 200 * time.Millisecond, LockDuration: 2 * time.Second})
			b.waitState(t, id, StateFailed)
			want := fmt.Sprintf("Job %s has pending dependencies. moveToFinished", id)
			h := b.hash(t, id)
			if h["failedReason"] != want || h["atm"] != fmt.Sprint(tc.runs) || h["returnvalue"] != "" {
				t.Fatalf("hash %v\nwant failedReason %q, atm %d", h, want, tc.runs)
			}
			var st []string
			if err := json.Unmarshal([]byte(h["stacktrace"]), &st); err != nil || len(st) != int(tc.runs) ||
				!strings.HasPrefix(st[0], "Error: "+want+"\n") {
				t.Fatalf("stacktrace %q (%v)", h["stacktrace"], err)
			}
			// Longer than the lock: a stalled rerun would show here.
			time.Sleep(2500 * time.Millisecond)
			if n := runs.Load(); n != tc.runs {
				t.Fatalf("handler ran %d times, want %d", n, tc.runs)
			}
			if n := rec.count(EventCompleted); n != 0 {
				t.Fatalf("%d completed events", n)
			}
			if n := rec.count(EventFailed); n != 1 {
				t.Fatalf("%d failed events", n)
			}
			// Node's worker emits one `error` per refusal too.
			if n := rec.count(EventError); n != int(tc.runs) {
				t.Fatalf("%d error events, want %d", n, tc.runs)
			}
			evs := b.eventsOf(t, id)
			if evs[len(evs)-1] != "retries-exhausted" || evs[len(evs)-2] != "failed/active" {
				t.Fatalf("events %v", evs)
			}
			for _, e := range evs {
				if e == "completed/active" || e == "stalled" {
					t.Fatalf("events %v", evs)
				}
			}
		})
	}
}

// Issue 9, item 4: a completion refused because a child failed (−9) is an
// unrecoverable failure in Node ("Cannot complete job <id> because it has
// at least one failed child. moveToFinished"): no retry, whatever the
// attempts.
func TestIssue9Item4_FailedChildrenFailsUnrecoverable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := mustAdd(t, b, "parent", &AddOptions{Attempts: 3})
	b.client.ZAdd(b.ctx, b.q.k.job(id)+":unsuccessful", redisZ(1, b.q.k.base+"child:1"))
	var runs atomic.Int32
	startWorker(t, b, func(context.Context, *Job) (any, error) {
		runs.Add(1)
		return nil, nil
	}, &WorkerOptions{StalledInterval: 200 * time.Millisecond, LockDuration: 2 * time.Second})
	b.waitState(t, id, StateFailed)
	want := fmt.Sprintf("Cannot complete job %s because it has at least one failed child. moveToFinished", id)
	h := b.hash(t, id)
	if h["failedReason"] != want || h["atm"] != "1" {
		t.Fatalf("hash %v\nwant failedReason %q", h, want)
	}
	var st []string
	if err := json.Unmarshal([]byte(h["stacktrace"]), &st); err != nil || len(st) != 1 ||
		!strings.HasPrefix(st[0], "UnrecoverableError: "+want+"\n    at ") {
		t.Fatalf("stacktrace %q (%v)", h["stacktrace"], err)
	}
	time.Sleep(2500 * time.Millisecond)
	if n := runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
}

// Issue 9, item 5: a finish that meets a Redis outage shorter than the lock
// is retried until Redis answers, so the job completes after one run.
// Redis is SIGKILLed from inside the handler and restarted (with its data:
// AOF, fsync always) 5 s later, longer than go-redis' own retries; the
// lock lasts 20 s.
func TestIssue9Item5_FinishRetriedAcrossRedisOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, &redistest.Options{Args: []string{"--appendonly", "yes", "--appendfsync", "always"}})
	c := srv.Client(t)
	name := redistest.KeyPrefix(t)
	q, err := NewQueue(c, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := &bundle{srv: srv, client: c, q: q, name: name, ctx: ctx}
	id := mustAdd(t, b, "j", nil)
	var runs atomic.Int32
	killed := make(chan struct{})
	rec := &recorder{}
	startWorker(t, b, func(context.Context, *Job) (any, error) {
		if runs.Add(1) == 1 {
			srv.Kill()
			close(killed)
		}
		return "done", nil
	}, &WorkerOptions{OnEvent: rec.on, LockDuration: 20 * time.Second, StalledInterval: time.Second})
	select {
	case <-killed:
	case <-time.After(10 * time.Second):
		t.Fatal("job never started")
	}
	time.Sleep(5 * time.Second)
	srv.Restart()
	if err := srv.WaitUp(ctx); err != nil {
		t.Fatal(err)
	}
	// Well within the 20 s lock: the result must not wait for a stalled rerun.
	waitFor(t, 10*time.Second, "job completed", func() bool {
		s, err := q.GetState(ctx, id)
		return err == nil && s == StateCompleted
	})
	if n := runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times", n)
	}
	if h := b.hash(t, id); h["returnvalue"] != `"done"` || h["atm"] != "1" {
		t.Fatalf("hash %v", h)
	}
	if rec.count(EventCompleted) != 1 || rec.count(EventLockLost) != 0 {
		t.Fatalf("completed %d, lockLost %d", rec.count(EventCompleted), rec.count(EventLockLost))
	}
}

// Issue 9, item 5 (ambiguous outage): a finish reaches Redis but the
// worker does not get its reply: the reply is lost (the hook fails the
// call after Redis ran it, as a read timeout does, and the worker retries),
// or go-redis re-sent the command after a timeout and returns the second
// execution's refusal. Either way the refusal (lock gone) is the echo of
// the first execution's success: the worker reports the outcome, not a
// lost lock. Covered for a completion and for a retry.
func TestIssue9Item5_FinishReplyLostIsNotLockLost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		resend bool
		retry  bool
	}{{"complete-reply-lost", false, false}, {"complete-resent", true, false}, {"retry-reply-lost", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			c := redis.NewClient(b.srv.Options())
			t.Cleanup(func() { _ = c.Close() })
			sc := scriptMoveToFinished // finishes and retries alike
			if err := sc.load(b.ctx, c); err != nil {
				t.Fatal(err)
			}
			var calls atomic.Int32
			c.AddHook(dropReplyHook{sha: sc.s.Hash(), n: &calls, resend: tc.resend})
			id := mustAdd(t, b, "j", &AddOptions{Attempts: 2})
			rec := &recorder{}
			var runs atomic.Int32
			w, err := NewWorker(c, b.name, func(context.Context, *Job) (any, error) {
				if runs.Add(1) == 1 && tc.retry {
					return nil, errors.New("first attempt fails")
				}
				return 7, nil
			}, &WorkerOptions{OnEvent: rec.on, Logger: testLogger(t)})
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
			b.waitState(t, id, StateCompleted)
			waitFor(t, 5*time.Second, "completed event", func() bool { return rec.count(EventCompleted) == 1 })
			wantRuns, wantRetrying, wantCalls := int32(1), 0, int32(2)
			if tc.retry {
				// and the completion of the second run
				wantRuns, wantRetrying, wantCalls = 2, 1, 3
			}
			// calls: the first (applied, reply lost) and the refused one
			if calls.Load() != wantCalls || runs.Load() != wantRuns || rec.count(EventLockLost) != 0 ||
				rec.count(EventRetrying) != wantRetrying {
				t.Fatalf("script calls %d, runs %d, lockLost %d, retrying %d", calls.Load(), runs.Load(),
					rec.count(EventLockLost), rec.count(EventRetrying))
			}
			if h := b.hash(t, id); h["returnvalue"] != "7" || h["atm"] != fmt.Sprint(wantRuns) {
				t.Fatalf("hash %v", h)
			}
		})
	}
}

// dropReplyHook lets the first EVALSHA of one script run in Redis and then
// either returns a network error instead of its reply, or (resend) runs it
// a second time and returns that reply, as go-redis does when it re-sends
// a command after a read timeout.
type dropReplyHook struct {
	sha    string
	n      *atomic.Int32
	resend bool
}

func (dropReplyHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (dropReplyHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h dropReplyHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		a := cmd.Args()
		if err != nil || len(a) < 2 || a[0] != "evalsha" || a[1] != h.sha {
			return err
		}
		if h.n.Add(1) != 1 {
			return nil
		}
		if h.resend {
			h.n.Add(1)
			return next(ctx, cmd)
		}
		e := errors.New("i/o timeout (reply dropped by the test)")
		cmd.SetErr(e)
		return e
	}
}

// Issue 9, item 6: Close while moveToActive is in flight and no job runs.
// The hook lets the fetch run in Redis and holds its reply until Close has
// started. Before, Close saw no job, cancelled everything and the fetched
// job was left in active with its lock. Now Close waits for the fetch and
// hands the job back to wait untouched.
func TestIssue9Item6_CloseDuringFetchHandsJobBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := redis.NewClient(b.srv.Options())
	t.Cleanup(func() { _ = c.Close() })
	if err := scriptMoveToActive.load(b.ctx, c); err != nil {
		t.Fatal(err)
	}
	hold := &holdReplyHook{sha: scriptMoveToActive.s.Hash(), inFlight: make(chan struct{}), release: make(chan struct{})}
	c.AddHook(hold)
	id := mustAdd(t, b, "j", nil)
	var runs atomic.Int32
	w, err := NewWorker(c, b.name, func(context.Context, *Job) (any, error) {
		runs.Add(1)
		return nil, nil
	}, &WorkerOptions{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hold.inFlight:
	case <-time.After(10 * time.Second):
		t.Fatal("no fetch")
	}
	if b.state(t, id) != StateActive {
		t.Fatal("the held fetch did not move the job to active")
	}
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		closed <- w.Close(ctx)
	}()
	waitFor(t, 5*time.Second, "Close started", w.closing.Load)
	time.Sleep(100 * time.Millisecond) // let Close get as far as it goes on its own
	close(hold.release)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	st := b.state(t, id)
	switch {
	case st == StateWaiting && runs.Load() == 0:
		if got := b.eventsOf(t, id); got[len(got)-1] != "waiting/active" {
			t.Fatalf("events %v", got)
		}
		if h := b.hash(t, id); h["atm"] != "" && h["atm"] != "0" {
			t.Fatalf("hand-back burnt an attempt: %v", h)
		}
	case st == StateCompleted && runs.Load() == 1:
	default:
		t.Fatalf("after Close the job is %s with %d runs (want handed back to wait, or completed)", st, runs.Load())
	}
	if b.client.Exists(b.ctx, b.q.k.lock(id)).Val() != 0 {
		t.Fatal("lock left behind")
	}
}

// holdReplyHook lets the first EVALSHA of one script run in Redis, then
// signals inFlight and holds the reply until release is closed.
type holdReplyHook struct {
	sha      string
	once     sync.Once
	inFlight chan struct{}
	release  chan struct{}
}

func (*holdReplyHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (*holdReplyHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *holdReplyHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		a := cmd.Args()
		if len(a) > 1 && a[0] == "evalsha" && a[1] == h.sha {
			first := false
			h.once.Do(func() { first = true })
			if first {
				close(h.inFlight)
				<-h.release
			}
		}
		return err
	}
}

// Issue 9, item 7: stalled recovery on a queue at its global concurrency
// writes marker 0 once the recovered job has left active (Node decides
// "paused or maxed" per job, after its LREM). Before, the decision was
// taken once before the loop, with the stalled job still counted.
func TestIssue9Item7_StalledRecoveryMarkerUnderGlobalConcurrency(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		paused     bool
		wantMarker bool
	}{{"at-cap", false, true}, {"paused", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			if err := b.q.SetGlobalConcurrency(b.ctx, 1); err != nil {
				t.Fatal(err)
			}
			w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil }, nil)
			id := mustAdd(t, b, "dead", nil)
			fetch(t, w)
			if tc.paused {
				if err := b.q.Pause(b.ctx); err != nil {
					t.Fatal(err)
				}
			}
			// Its holder died after the previous check's snapshot.
			b.client.Del(b.ctx, b.q.k.lock(id), b.q.k.marker())
			b.client.SAdd(b.ctx, b.q.k.stalled(), id)
			if err := w.checkStalled(); err != nil {
				t.Fatal(err)
			}
			if got := b.client.LRange(b.ctx, b.q.k.wait(), 0, -1).Val(); !reflect.DeepEqual(got, []string{id}) {
				t.Fatalf("wait %v", got)
			}
			_, err := b.client.ZScore(b.ctx, b.q.k.marker(), "0").Result()
			if got := err == nil; got != tc.wantMarker {
				t.Fatalf("marker 0 written: %v, want %v", got, tc.wantMarker)
			}
		})
	}
}

// Issue 9, also fix: when a job whose lock was lost is fetched again by the
// same worker, the first run's context is cancelled (cause ErrLockLost) and
// its result discarded; before, the new run's entry replaced the old one
// and the first handler ran on uncancelled.
func TestIssue9_RefetchedJobCancelsFirstRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := mustAdd(t, b, "j", nil)
	started := make(chan int, 2)
	firstCause := make(chan error, 1)
	var runs atomic.Int32
	rec := &recorder{}
	startWorker(t, b, func(ctx context.Context, j *Job) (any, error) {
		n := int(runs.Add(1))
		started <- n
		if n == 1 {
			select {
			case <-ctx.Done():
				firstCause <- context.Cause(ctx)
			case <-time.After(8 * time.Second):
				firstCause <- nil
			}
			return "first", nil
		}
		return "second", nil
	}, &WorkerOptions{Concurrency: 2, OnEvent: rec.on, LockDuration: 30 * time.Second,
		LockRenewTime: 30 * time.Second, StalledInterval: time.Minute})
	if n := <-started; n != 1 {
		t.Fatal(n)
	}
	// The lock is lost and the stalled check of another worker moves the job
	// back to wait; our idle slot fetches it again.
	b.client.Del(b.ctx, b.q.k.lock(id))
	b.client.LRem(b.ctx, b.q.k.active(), 1, id)
	b.client.RPush(b.ctx, b.q.k.wait(), id)
	b.client.ZAdd(b.ctx, b.q.k.marker(), redisZ(0, "0"))
	select {
	case n := <-started:
		if n != 2 {
			t.Fatal(n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("job not fetched again")
	}
	if cause := <-firstCause; !errors.Is(cause, ErrLockLost) {
		t.Fatalf("first run's context cause %v, want ErrLockLost", cause)
	}
	b.waitState(t, id, StateCompleted)
	time.Sleep(100 * time.Millisecond)
	if h := b.hash(t, id); h["returnvalue"] != `"second"` {
		t.Fatalf("returnvalue %s", h["returnvalue"])
	}
	if rec.count(EventCompleted) != 1 {
		t.Fatalf("completed events %d", rec.count(EventCompleted))
	}
}

var stackFrameRe = regexp.MustCompile(`^    at \S.* \(.+:\d+\)$`)

// Issue 9, also fix: a failed job's stack trace is stored as Node stores
// err.stack: "Error: <message>" then "    at <function> (<file>:<line>)"
// lines, for handler errors and panics alike.
func TestIssue9_StacktraceNodeForm(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := mustAdd(t, b, "err", nil)
	p := mustAdd(t, b, "panic", nil)
	u := mustAdd(t, b, "unrecoverable", nil)
	startWorker(t, b, func(ctx context.Context, j *Job) (any, error) {
		switch j.Name {
		case "panic":
			panicInHandler()
		case "unrecoverable":
			return nil, Unrecoverable(errors.New("nope"))
		}
		return nil, errors.New("boom: bad input")
	}, nil)
	for _, tc := range []struct{ id, first, frame string }{
		{e, "Error: boom: bad input", "queue.TestIssue9_StacktraceNodeForm"},
		{p, "Error: panic: kaboom", "queue.panicInHandler"},
		// Node names the class of an UnrecoverableError in its stack.
		{u, "UnrecoverableError: nope", "queue.TestIssue9_StacktraceNodeForm"},
	} {
		b.waitState(t, tc.id, StateFailed)
		var st []string
		h := b.hash(t, tc.id)
		if err := json.Unmarshal([]byte(h["stacktrace"]), &st); err != nil || len(st) != 1 {
			t.Fatalf("stacktrace %q (%v)", h["stacktrace"], err)
		}
		lines := strings.Split(st[0], "\n")
		if lines[0] != tc.first || len(lines) < 2 {
			t.Fatalf("stack %q, want first line %q", st[0], tc.first)
		}
		for _, l := range lines[1:] {
			if !stackFrameRe.MatchString(l) {
				t.Fatalf("frame line %q in %q", l, st[0])
			}
		}
		if !strings.Contains(lines[1], tc.frame) {
			t.Fatalf("first frame %q, want %s", lines[1], tc.frame)
		}
	}
}

func panicInHandler() { panic("kaboom") }

// Issue 10, item 10: a starting worker's first stalled check runs even when
// the `stalled-check` key of a worker that just died is still there, so a
// crashed worker's job is back within lockDuration + stalledInterval
// instead of about twice the interval. Seed: the dead worker's job in
// active with a lock of 1 s, not in `stalled` (its last renewal removed
// it), and its `stalled-check` key fresh.
func TestIssue10Item10_FirstStalledCheckRunsAtStart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := mustAdd(t, b, "orphan", nil)
	b.client.LMove(b.ctx, b.q.k.wait(), b.q.k.active(), "RIGHT", "LEFT")
	b.client.Set(b.ctx, b.q.k.lock(id), "dead-worker:1", time.Second)
	const interval = 4 * time.Second
	b.client.Set(b.ctx, b.q.k.stalledCheck(), time.Now().UnixMilli(), interval)
	b.client.Del(b.ctx, b.q.k.marker())
	done := make(chan time.Time, 1)
	start := time.Now()
	startWorker(t, b, func(context.Context, *Job) (any, error) {
		done <- time.Now()
		return nil, nil
	}, &WorkerOptions{StalledInterval: interval})
	// The first check snapshots the orphan at once.
	waitFor(t, 2*time.Second, "the first stalled check to snapshot active", func() bool {
		return b.client.SIsMember(b.ctx, b.q.k.stalled(), id).Val()
	})
	select {
	case at := <-done:
		t.Logf("orphan recovered and run %s after the worker started", at.Sub(start).Round(time.Millisecond))
	case <-time.After(interval + 3*time.Second):
		t.Fatal("orphan not recovered within lockDuration + stalledInterval")
	}
}

// Issue 9, also fix: a job that finishes between the renewal's snapshot
// and its extend call is not a lost lock (no lockLost event, no
// cancellation).
func TestIssue9_FinishDuringRenewalIsNotLockLost(t *testing.T) {
	t.Parallel()
	for _, finished := range []bool{true, false} {
		t.Run(fmt.Sprintf("untracked=%v", finished), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			rec := &recorder{}
			w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil },
				&WorkerOptions{OnEvent: rec.on})
			mustAdd(t, b, "j", nil)
			r, tok := fetch(t, w)
			job, _ := jobFromHash(r.id, fieldsToMap(r.fields))
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			aj := w.track(job, tok, cancel)
			aj.lastRenew.Store(0) // due for renewal
			due := w.locksDue(w.now(), 1)
			if len(due) != 1 {
				t.Fatalf("due %d", len(due))
			}
			// The job finishes now, after the snapshot.
			aj.finishing.Store(true)
			w.closing.Store(true) // no fetch-next
			if _, _, ok := w.complete(job, tok, "null"); !ok {
				t.Fatal("complete")
			}
			if finished {
				w.untrack(aj)
			}
			w.extendLocks(due)
			if rec.count(EventLockLost) != 0 || context.Cause(ctx) != nil || aj.lost.Load() {
				t.Fatalf("lockLost %d, cause %v", rec.count(EventLockLost), context.Cause(ctx))
			}
		})
	}
}

// Which errors a finish retries: connection-level failures and passing
// server states, not script refusals, script errors or a closed client.
func TestIssue9Item5_TransientErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("queue: moveToFinished: %w", &net.OpError{Op: "dial", Err: errors.New("connection refused")}), true},
		{fmt.Errorf("queue: moveToFinished: %w", io.EOF), true},
		{codeError("moveToFinished", "1", -2), false},
		{codeError("moveToFinished", "1", -4), false},
		{context.Canceled, false},
		{redis.ErrClosed, false},
		{nil, false},
	} {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	// Server replies, from a real Redis.
	b := setup(t)
	for _, tc := range []struct {
		script string
		want   bool
	}{
		{"return redis.error_reply('LOADING Redis is loading the dataset in memory')", true},
		{"return redis.error_reply('READONLY You cannot write against a read only replica.')", true},
		{"return redis.error_reply('ERR something else')", false},
		{"error('boom')", false},
	} {
		err := b.client.Eval(b.ctx, tc.script, nil).Err()
		if err == nil {
			t.Fatalf("%s: no error", tc.script)
		}
		if got := transient(fmt.Errorf("queue: x: %w", err)); got != tc.want {
			t.Errorf("transient(%v) = %v, want %v", err, got, tc.want)
		}
	}
}
