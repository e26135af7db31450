package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Handler processes one job. Its return value is stored as the job's
// returnvalue in JSON (nil becomes null; a json.RawMessage is stored as
// is). Returning an error fails the attempt; wrap it with Unrecoverable to
// skip the remaining attempts. ctx is cancelled when the job's lock is lost
// or when Close gives up waiting; a handler should return soon after.
type Handler func(ctx context.Context, job *Job) (any, error)

// RateLimiter lets at most Max jobs start per Duration across every worker
// of the queue that uses the same limiter (BullMQ's worker `limiter`). A
// queue-wide meta `max` (Queue.SetGlobalRateLimit) beats Max.
type RateLimiter struct {
	Max      int
	Duration time.Duration
}

// IntPtr returns a pointer to n, for options where 0 is meaningful.
func IntPtr(n int) *int { return &n }

// WorkerEventType names a WorkerEvent.
type WorkerEventType string

const (
	// EventActive: the worker started a job.
	EventActive WorkerEventType = "active"
	// EventCompleted: a job completed.
	EventCompleted WorkerEventType = "completed"
	// EventFailed: a job failed for good (moved to failed or removed).
	EventFailed WorkerEventType = "failed"
	// EventRetrying: an attempt failed and the job will run again.
	EventRetrying WorkerEventType = "retrying"
	// EventStalled: this worker's stalled check moved a job back to wait.
	EventStalled WorkerEventType = "stalled"
	// EventLockLost: the lock of a running job was lost; its context is
	// cancelled and its result ignored.
	EventLockLost WorkerEventType = "lockLost"
	// EventError: a Redis or internal error (logged once per episode).
	EventError WorkerEventType = "error"
)

// WorkerEvent is passed to WorkerOptions.OnEvent.
type WorkerEvent struct {
	Type  WorkerEventType
	JobID string
	// Job is the job concerned, when the worker holds it (nil for stalled
	// and error events).
	Job *Job
	// Err is the failure (failed, retrying, lockLost, error).
	Err error
}

// WorkerOptions configure a Worker. A nil *WorkerOptions means defaults.
type WorkerOptions struct {
	// Prefix of every key, with any Cluster hash tag, exactly as the Node
	// side uses it. Defaults to "bull".
	Prefix string
	// Name of the worker: stored in the `pb` field of the jobs it runs and
	// appended to its blocking connection's name
	// ("<prefix>:<base64(queue)>:w:<name>"). Defaults to "" (unnamed).
	Name string
	// Concurrency is how many jobs run at once. Defaults to 1.
	Concurrency int
	// LockDuration is the TTL of a job's lock. Defaults to 30s.
	LockDuration time.Duration
	// LockRenewTime: locks are renewed when older than half of it, checked
	// every LockRenewTime/2. Defaults to LockDuration/2.
	LockRenewTime time.Duration
	// StalledInterval between stalled checks (one per queue per interval
	// across all workers). Defaults to 30s.
	StalledInterval time.Duration
	// MaxStalledCount is how often a job may stall before it is failed
	// ("job stalled more than allowable limit"). Defaults to 1 (nil);
	// IntPtr(0) fails a job at its first stall.
	MaxStalledCount *int
	// DrainDelay is how long an idle worker blocks on the marker before it
	// looks again. Defaults to 5s; must be at least 1ms (0 would block
	// forever in Redis).
	DrainDelay time.Duration
	// RemoveOnComplete and RemoveOnFail are used for jobs whose own options
	// do not say. Defaults to nil (keep all).
	RemoveOnComplete, RemoveOnFail *KeepJobs
	// Limiter is this worker's rate limit. Defaults to nil (none).
	Limiter *RateLimiter
	// MaxStartedAttempts fails a job that has been started more often than
	// this ("job started more than allowable limit") and stops retries once
	// reached. Defaults to 0 (no limit; Node's unset).
	MaxStartedAttempts int
	// SkipStalledCheck turns this worker's stalled checker off. Defaults to
	// false.
	SkipStalledCheck bool
	// MaxResultSize bounds the JSON of a return value in bytes; a larger
	// result fails the job. Defaults to DefaultMaxDataSize (4 MiB).
	MaxResultSize int
	// MaxRateLimitDelay caps the wait when the rate limit is reached.
	// Defaults to 30s.
	MaxRateLimitDelay time.Duration
	// Logger receives the worker's log lines. Defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock for every timestamp and score. Defaults to time.Now.
	Now func() time.Time
	// OnEvent, when set, is called synchronously for every WorkerEvent; it
	// must be quick and must not block. Defaults to nil.
	OnEvent func(WorkerEvent)
	// Metrics, when set, records the queue's completed and failed counts
	// per minute as Node's worker option `metrics` does (read them with
	// Queue.GetMetrics). Defaults to nil (not recorded).
	Metrics *MetricsOptions
}

// MetricsOptions configure metrics recording (Node's `metrics` option).
type MetricsOptions struct {
	// MaxDataPoints is how many per-minute data points each series keeps
	// (Node's maxDataPoints; MetricsOneWeek keeps a week). Must be ≥ 1.
	MaxDataPoints int
}

// Data point counts for MetricsOptions.MaxDataPoints (one per minute), as
// Node's MetricsTime names them.
const (
	MetricsOneHour  = 60
	MetricsOneWeek  = 60 * 24 * 7
	MetricsTwoWeeks = 2 * MetricsOneWeek
)

func (o *WorkerOptions) withDefaults() WorkerOptions {
	var out WorkerOptions
	if o != nil {
		out = *o
	}
	if out.Prefix == "" {
		out.Prefix = DefaultPrefix
	}
	if out.Concurrency == 0 {
		out.Concurrency = 1
	}
	if out.LockDuration == 0 {
		out.LockDuration = 30 * time.Second
	}
	if out.LockRenewTime == 0 {
		out.LockRenewTime = out.LockDuration / 2
	}
	if out.StalledInterval == 0 {
		out.StalledInterval = 30 * time.Second
	}
	if out.MaxStalledCount == nil {
		out.MaxStalledCount = IntPtr(1)
	} else {
		out.MaxStalledCount = IntPtr(*out.MaxStalledCount)
	}
	if out.DrainDelay == 0 {
		out.DrainDelay = 5 * time.Second
	}
	if out.MaxResultSize == 0 {
		out.MaxResultSize = DefaultMaxDataSize
	}
	if out.MaxRateLimitDelay == 0 {
		out.MaxRateLimitDelay = 30 * time.Second
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.Limiter != nil {
		l := *out.Limiter
		out.Limiter = &l
	}
	if out.Metrics != nil {
		m := *out.Metrics
		out.Metrics = &m
	}
	return out
}

func (o *WorkerOptions) validate() error {
	switch {
	case o.Concurrency < 1:
		return optErr("Concurrency", "must be at least 1 (got %d)", o.Concurrency)
	case o.LockDuration < time.Millisecond:
		return optErr("LockDuration", "must be at least 1ms (got %s)", o.LockDuration)
	case o.LockRenewTime < time.Millisecond || o.LockRenewTime > o.LockDuration:
		return optErr("LockRenewTime", "must be between 1ms and LockDuration (got %s)", o.LockRenewTime)
	case o.StalledInterval < time.Millisecond:
		return optErr("StalledInterval", "must be at least 1ms (got %s)", o.StalledInterval)
	case *o.MaxStalledCount < 0:
		return optErr("MaxStalledCount", "must not be negative (got %d)", *o.MaxStalledCount)
	case o.DrainDelay < time.Millisecond:
		return optErr("DrainDelay", "must be at least 1ms (got %s)", o.DrainDelay)
	case o.MaxStartedAttempts < 0:
		return optErr("MaxStartedAttempts", "must not be negative (got %d)", o.MaxStartedAttempts)
	case o.MaxResultSize < 0:
		return optErr("MaxResultSize", "must not be negative")
	case o.MaxRateLimitDelay < 0:
		return optErr("MaxRateLimitDelay", "must not be negative")
	case o.Limiter != nil && (o.Limiter.Max < 1 || o.Limiter.Duration < time.Millisecond):
		return optErr("Limiter", "needs Max ≥ 1 and Duration ≥ 1ms")
	case o.Metrics != nil && o.Metrics.MaxDataPoints < 1:
		return optErr("Metrics", "MaxDataPoints must be at least 1 (got %d)", o.Metrics.MaxDataPoints)
	}
	for name, k := range map[string]*KeepJobs{"RemoveOnComplete": o.RemoveOnComplete, "RemoveOnFail": o.RemoveOnFail} {
		if k != nil && (k.Count < -1 || k.Age < 0 || k.Limit < 0) {
			return optErr(name, "count must be ≥ -1, age and limit ≥ 0")
		}
	}
	return nil
}

// ErrLockLost is the cause of a job context cancelled because its lock was
// lost (another worker may be running the job now).
var ErrLockLost = errors.New("queue: job lock lost")

// ErrWorkerClosing is the cause of a job context cancelled because Close
// stopped waiting for it.
var ErrWorkerClosing = errors.New("queue: worker closing")

// Worker runs a Handler for the jobs of one queue, speaking BullMQ 6.7.0's
// protocol, so it shares the queue with Node BullMQ workers and producers.
// Delivery is at least once: handlers must be idempotent.
type Worker struct {
	c     redis.UniversalClient
	q     *Queue
	k     keys
	wkeys []string
	h     Handler
	opts  WorkerOptions
	log   *slog.Logger
	uuid  string
	seq   atomic.Uint64

	limMax, limDur int64
	lockMs         int64
	limitUntil     atomic.Int64 // ms; set when a handler returns RateLimitError
	metricsMax     int64        // Metrics.MaxDataPoints, 0 = off

	batch finishBatcher // finishes waiting for the call in flight

	mu       sync.Mutex
	started  bool
	closed   bool
	active   map[string]*activeJob
	closing  atomic.Bool
	stopped  chan struct{} // closed when Close starts: stop fetching
	done     chan struct{} // closed when Close has finished
	closeErr error

	runCtx    context.Context // Redis calls of the loops and finishes
	runCancel context.CancelFunc
	jobCtx    context.Context // parent of the handlers' contexts
	jobCancel context.CancelCauseFunc

	slots  chan struct{}
	blk    *blocker
	loops  sync.WaitGroup // fetch, lock renewal, stalled check
	jobsWG sync.WaitGroup // processors

	fetchEp, renewEp, stalledEp, finishEp *episode
}

type activeJob struct {
	job       *Job
	token     string
	cancel    context.CancelCauseFunc
	lastRenew atomic.Int64 // ms
	lost      atomic.Bool
	// finishing is set before the first finishing script is sent: from
	// then on a failed renewal means the finish took the lock, not that
	// it was lost.
	finishing atomic.Bool
}

// NewWorker returns a worker for queue on client c. It does not own c.
// Call Start to begin processing and Close to stop. A nil h makes a worker
// for manual processing (GetNextJob, Job.MoveToCompleted, Job.MoveToFailed):
// its Start returns ErrNoHandler.
func NewWorker(c redis.UniversalClient, queue string, h Handler, opts *WorkerOptions) (*Worker, error) {
	if c == nil {
		return nil, errors.New("queue: nil redis client")
	}
	o := opts.withDefaults()
	if err := validateNames(o.Prefix, queue); err != nil {
		return nil, err
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	q, err := NewQueue(c, queue, &QueueOptions{Prefix: o.Prefix, Logger: o.Logger, Now: o.Now})
	if err != nil {
		return nil, err
	}
	log := o.Logger.With(slog.String("queue", queue))
	if o.Name != "" {
		log = log.With(slog.String("worker", o.Name))
	}
	w := &Worker{
		c: c, q: q, k: q.k, wkeys: q.k.workerKeys(), h: h, opts: o, log: log,
		uuid:    uuid.NewString(),
		lockMs:  o.LockDuration.Milliseconds(),
		active:  map[string]*activeJob{},
		stopped: make(chan struct{}),
		done:    make(chan struct{}),
		slots:   make(chan struct{}, o.Concurrency),
	}
	w.runCtx, w.runCancel = context.WithCancel(context.Background())
	w.jobCtx, w.jobCancel = context.WithCancelCause(context.Background())
	if o.Limiter != nil {
		w.limMax, w.limDur = int64(o.Limiter.Max), o.Limiter.Duration.Milliseconds()
	}
	if o.Metrics != nil {
		w.metricsMax = int64(o.Metrics.MaxDataPoints)
	}
	w.fetchEp = &episode{log: log, what: "fetching jobs"}
	w.renewEp = &episode{log: log, what: "renewing locks"}
	w.stalledEp = &episode{log: log, what: "stalled check"}
	w.finishEp = &episode{log: log, what: "finishing jobs"}
	return w, nil
}

// Queue is the queue this worker processes, for adds and admin calls.
func (w *Worker) Queue() *Queue { return w.q }

// Start launches the fetch loop, the lock renewal and the stalled checker
// and returns at once. It needs no Redis round trip: while Redis is down
// the loops retry with backoff. ctx is not kept (its cancellation does
// not stop the worker); the worker runs until Close. A second Start is a no-op; Start after Close returns ErrClosed.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.started {
		return nil
	}
	if w.h == nil {
		return ErrNoHandler
	}
	w.started = true
	w.blk = newBlocker(w.c, connectionName(w.opts.Prefix, w.q.name, w.opts.Name))
	w.loops.Add(2)
	go w.fetchLoop()
	go w.renewLoop()
	if !w.opts.SkipStalledCheck {
		w.loops.Add(1)
		go w.stalledLoop()
	}
	return nil
}

// Close stops fetching, waits for running jobs until ctx is done, then
// cancels their contexts (cause ErrWorkerClosing), hands the jobs that did
// not finish back to the queue (after a short grace also those whose
// handler ignores its context; what such a handler returns later is
// discarded), and releases the blocking connection. It
// returns ctx's error when it had to cancel jobs. Close never waits on
// Redis beyond a short grace period after ctx, even when Redis is down.
// Safe to call twice and from several goroutines; later calls wait for the
// first one (or their own ctx).
func (w *Worker) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		select {
		case <-w.done:
			return w.closeErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.closed = true
	started := w.started
	// Set under mu: beginJob adds to jobsWG under mu only while not
	// closing, so no Add can follow the Wait below.
	w.closing.Store(started)
	w.mu.Unlock()
	if !started {
		w.runCancel()
		w.jobCancel(ErrWorkerClosing)
		close(w.stopped)
		close(w.done)
		return nil
	}
	close(w.stopped)
	w.blk.close() // interrupts a blocked BZPOPMIN

	jobsDone := make(chan struct{})
	go func() { w.jobsWG.Wait(); close(jobsDone) }()
	var err error
	stuck := false
	select {
	case <-jobsDone:
	case <-ctx.Done():
		err = ctx.Err()
		w.jobCancel(ErrWorkerClosing)
		// Handlers that honour ctx return now and hand their jobs back;
		// give them (and Redis) a short, fixed grace.
		select {
		case <-jobsDone:
		case <-time.After(closeGrace):
			w.handBackStuck()
			stuck = true
		}
	}
	w.runCancel()
	w.jobCancel(ErrWorkerClosing)
	all := make(chan struct{})
	go func() {
		w.loops.Wait()
		if !stuck { // stuck handlers' jobs were handed back: not waited for
			w.jobsWG.Wait()
		}
		close(all)
	}()
	select {
	case <-all:
	case <-time.After(closeGrace):
		if err == nil {
			err = errors.New("queue: worker close: background work did not stop in time")
		}
	}
	w.closeErr = err
	close(w.done)
	return err
}

// closeGrace bounds what Close waits for after its ctx is done.
const closeGrace = 2 * time.Second

func (w *Worker) emitEvent(ev WorkerEvent) {
	if w.opts.OnEvent != nil {
		w.opts.OnEvent(ev)
	}
}

func (w *Worker) newToken() string {
	return w.uuid + ":" + strconv.FormatUint(w.seq.Add(1), 10)
}

func (w *Worker) now() int64 { return w.opts.Now().UnixMilli() }

// sleep waits d or until the worker stops fetching; false when stopping.
func (w *Worker) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.stopped:
		return false
	}
}

// moveToActive fetches one job with token.
func (w *Worker) moveToActive(ctx context.Context, token string) (fetchReply, error) {
	res, err := scriptMoveToActive.run(ctx, w.c, "", w.wkeys,
		trimArgs(4, w.k.base, w.now(), token, w.lockMs, w.limMax, w.limDur, w.opts.Name)...)
	if err != nil {
		return fetchReply{}, err
	}
	return parseFetchReply(res)
}

// fetchLoop keeps the worker's slots busy: it fetches one job per free
// slot, and when the queue is empty it blocks on the marker.
func (w *Worker) fetchLoop() {
	defer w.loops.Done()
	bo := retryBackoff{min: 100 * time.Millisecond, max: 5 * time.Second}
	drained := false
	var blockUntil int64
	for {
		select {
		case <-w.stopped:
			return
		case w.slots <- struct{}{}:
		}
		release := func() { <-w.slots }
		if d := w.rateLimitWait(); d > 0 {
			// A handler returned RateLimitError: wait for the limiter.
			release()
			if !w.sleep(d) {
				return
			}
			drained = false
			continue
		}
		if drained {
			timeout := w.opts.DrainDelay
			skip := false
			if blockUntil > 0 {
				d := time.Duration(blockUntil-w.now()) * time.Millisecond
				switch {
				case d <= 0:
					skip = true
				case d > 10*time.Second:
					timeout = 10 * time.Second
				default:
					timeout = d
				}
			}
			if !skip {
				bu, err := w.blk.wait(w.runCtx, w.k.marker(), timeout, w.opts.Now)
				if w.closing.Load() {
					release()
					return
				}
				if errors.Is(err, errNotReady) {
					blockUntil = bu
					release()
					continue
				}
				if err != nil {
					release()
					w.fetchFailed(err, &bo)
					continue
				}
			}
			blockUntil = 0
		}
		// The fetch counts as a running job from before it is sent, so
		// Close waits for it and the job it brings is handed back, never
		// left in active.
		if !w.beginJob() {
			release()
			return
		}
		token := w.newToken()
		r, err := w.moveToActive(w.runCtx, token)
		if err != nil {
			w.jobsWG.Done()
			release()
			w.fetchFailed(err, &bo)
			continue
		}
		bo.reset()
		w.fetchEp.ok()
		if r.id == "" {
			w.jobsWG.Done()
			release()
			if r.rateTTL > 0 {
				drained = false
				if !w.sleep(min(time.Duration(r.rateTTL)*time.Millisecond, w.opts.MaxRateLimitDelay)) {
					return
				}
				continue
			}
			drained = true
			blockUntil = r.nextDelayed
			continue
		}
		drained = false
		go w.runJobs(r, token)
	}
}

// beginJob counts a fetch about to be sent as a running job (jobsWG);
// false once Close has started.
func (w *Worker) beginJob() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing.Load() {
		return false
	}
	w.jobsWG.Add(1)
	return true
}

func (w *Worker) fetchFailed(err error, bo *retryBackoff) {
	if w.closing.Load() {
		return
	}
	w.fetchEp.fail(err)
	w.emitEvent(WorkerEvent{Type: EventError, Err: err})
	w.sleep(bo.next())
}

// runJobs processes a fetched job and then every job its finish fetched
// next, holding one slot throughout. The caller has done jobsWG.Add.
func (w *Worker) runJobs(r fetchReply, token string) {
	defer w.jobsWG.Done()
	defer func() { <-w.slots }()
	for r.id != "" {
		var ok bool
		r, token, ok = w.process(r, token)
		if !ok {
			return
		}
	}
}

// track registers a running job for lock renewal. An entry of an earlier
// run of the same job belongs to a lock that is gone (this fetch set a new
// one): that run is cancelled as lost and its result will be discarded.
func (w *Worker) track(job *Job, token string, cancel context.CancelCauseFunc) *activeJob {
	aj := &activeJob{job: job, token: token, cancel: cancel}
	aj.lastRenew.Store(w.now())
	w.mu.Lock()
	old := w.active[job.ID]
	w.active[job.ID] = aj
	w.mu.Unlock()
	if old != nil && old.lost.CompareAndSwap(false, true) {
		old.cancel(ErrLockLost)
		w.log.Warn("[Queue] job fetched again while an earlier run held a lost lock; that run is cancelled",
			slog.String("job", job.ID))
		if !old.finishing.Load() { // else its finish reports the loss
			w.emitEvent(WorkerEvent{Type: EventLockLost, JobID: job.ID, Job: old.job, Err: ErrLockLost})
		}
	}
	return aj
}

// untrack removes a finished run from lock renewal.
func (w *Worker) untrack(aj *activeJob) {
	w.mu.Lock()
	if w.active[aj.job.ID] == aj {
		delete(w.active, aj.job.ID)
	}
	w.mu.Unlock()
}

// tracked reports whether aj is still the running entry of its job.
func (w *Worker) tracked(aj *activeJob) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.active[aj.job.ID] == aj
}

// process runs one job and finishes it; it returns the next job fetched by
// the finish (r.id == "" for none).
func (w *Worker) process(r fetchReply, token string) (fetchReply, string, bool) {
	job, perr := jobFromHash(r.id, fieldsToMap(r.fields))
	job.q = w.q
	job.token = token
	if w.closing.Load() {
		// Fetched while Close started (a fetch in flight, or the fetch-next
		// of a finish): hand it back untouched rather than start it.
		w.handBack(job, token)
		return fetchReply{}, "", false
	}
	ctx, cancel := context.WithCancelCause(w.jobCtx)
	defer cancel(nil)
	aj := w.track(job, token, cancel)
	defer w.untrack(aj)
	if perr == nil && job.RepeatJobKey != "" {
		// A scheduler iteration: create the next one first (§9.19), also
		// when the job is about to fail on defa.
		w.advanceScheduler(job)
	}
	w.emitEvent(WorkerEvent{Type: EventActive, JobID: job.ID, Job: job})

	var result any
	var herr error
	var stack string
	switch {
	case perr != nil:
		herr = Unrecoverable(perr)
	case job.DeferredFailure != "":
		herr = Unrecoverable(errors.New(job.DeferredFailure))
	case w.opts.MaxStartedAttempts > 0 && job.AttemptsStarted > w.opts.MaxStartedAttempts:
		herr = Unrecoverable(errors.New("job started more than allowable limit"))
	default:
		result, stack, herr = w.call(ctx, job)
	}
	aj.finishing.Store(true) // from here a refused renewal is the finish's business
	if aj.lost.Load() {
		w.log.Warn("[Queue] job lock lost; result discarded", slog.String("job", job.ID))
		return fetchReply{}, "", true
	}
	if herr != nil && isRateLimitError(herr) {
		w.moveLimitedBackToWait(job, token)
		return fetchReply{}, "", true
	}
	if herr == nil {
		rv, err := w.encodeResult(result)
		if err != nil {
			herr = Unrecoverable(err)
		} else {
			return w.complete(job, token, rv)
		}
	}
	if context.Cause(ctx) == ErrWorkerClosing && !errors.Is(herr, ErrUnrecoverable) {
		// Shut down mid-job: hand it back untouched rather than burn an attempt.
		w.handBack(job, token)
		return fetchReply{}, "", false
	}
	return w.fail(job, token, herr, stack)
}

// call runs the handler, turning a panic into an error with its stack.
// A returned error gets a stack naming the handler (Go errors carry none).
func (w *Worker) call(ctx context.Context, job *Job) (res any, stack string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
			stack = panicStack(err.Error())
		}
	}()
	res, err = w.h(ctx, job)
	if err != nil {
		stack = errorStack(err, w.h)
	}
	return res, stack, err
}

func (w *Worker) encodeResult(v any) (string, error) {
	var b []byte
	switch x := v.(type) {
	case nil:
		return "null", nil
	case json.RawMessage:
		if !json.Valid(x) {
			return "", errors.New("queue: handler returned invalid JSON")
		}
		b = x
	default:
		var err error
		if b, err = marshalJSON(v); err != nil {
			return "", fmt.Errorf("queue: return value cannot be encoded as JSON: %w", err)
		}
	}
	if w.opts.MaxResultSize > 0 && len(b) > w.opts.MaxResultSize {
		return "", fmt.Errorf("queue: return value is %d bytes, limit %d", len(b), w.opts.MaxResultSize)
	}
	return string(b), nil
}

// keep resolves retention: the job's own option wins, then the worker's,
// else keep all. Returns count (-1 all), age in s (fractional), limit.
func keepArgs(job, worker *KeepJobs) (count int64, age float64, limit int64) {
	k := job
	if k == nil {
		k = worker
	}
	if k == nil {
		return -1, 0, 0
	}
	return int64(k.Count), k.Age.Seconds(), int64(k.Limit)
}

// finish completes or finally fails job (a moveToFinished record, see
// worker_batch.go) and returns the job fetched next for the slot.
func (w *Worker) finish(job *Job, token, target, value string, keep *KeepJobs, stacktrace string) (fetchReply, string, error) {
	var wk *KeepJobs
	if target == "completed" {
		wk = w.opts.RemoveOnComplete
	} else {
		wk = w.opts.RemoveOnFail
	}
	count, age, limit := keepArgs(keep, wk)
	nextToken := ""
	if !w.closing.Load() {
		nextToken = w.newToken()
	}
	keepS := keepArg(count, age, limit)
	var res any
	var maybeApplied bool
	var err error
	if target == "completed" {
		res, maybeApplied, err = w.finishRecord(job, token, "c", job.ID, token, value, keepS, nextToken)
	} else {
		res, maybeApplied, err = w.finishRecord(job, token, "f", job.ID, token, value, keepS, nextToken,
			job.Opts.Attempts, stacktrace)
	}
	if err != nil {
		if w.finishedBefore(job, err, maybeApplied, count == 0, JobState(target)) {
			return fetchReply{}, "", nil
		}
		return fetchReply{}, "", err
	}
	r, err := parseFetchReply(res)
	return r, nextToken, err
}

func (w *Worker) complete(job *Job, token, rv string) (fetchReply, string, bool) {
	r, next, err := w.finish(job, token, "completed", rv, job.Opts.RemoveOnComplete, "")
	switch {
	case errors.Is(err, ErrPendingChildren), errors.Is(err, ErrFailedChildren):
		// Node turns these refusals into a failure of the job (with an
		// `error` event): pending dependencies is retried per its attempts,
		// a failed child is unrecoverable.
		var ferr error
		if errors.Is(err, ErrPendingChildren) {
			ferr = errors.New("Job " + job.ID + " has pending dependencies. moveToFinished")
		} else {
			ferr = Unrecoverable(errors.New("Cannot complete job " + job.ID +
				" because it has at least one failed child. moveToFinished"))
		}
		w.log.Warn("[Queue] completion refused; failing the job", slog.String("job", job.ID),
			slog.String("reason", ferr.Error()))
		w.emitEvent(WorkerEvent{Type: EventError, JobID: job.ID, Job: job, Err: ferr})
		return w.fail(job, token, ferr, "")
	case err != nil:
		w.finishFailed(job, "complete", err)
		return fetchReply{}, "", true
	}
	w.finishEp.ok()
	job.ReturnValue = json.RawMessage(rv)
	w.emitEvent(WorkerEvent{Type: EventCompleted, JobID: job.ID, Job: job})
	return r, next, true
}

// finishFailed logs a finish that Redis refused or could not run. A lost
// lock (−2/−6) or a job no longer active (−3) means another worker or the
// stalled check took the job over: not an error of ours.
func (w *Worker) finishFailed(job *Job, op string, err error) {
	if errors.Is(err, ErrLockMissing) || errors.Is(err, ErrLockMismatch) || errors.Is(err, ErrNotInState) ||
		errors.Is(err, ErrJobNotFound) {
		w.log.Warn("[Queue] could not finish the job: lock lost or job moved", slog.String("op", op), slog.String("job", job.ID),
			slog.String("error", err.Error()))
		w.emitEvent(WorkerEvent{Type: EventLockLost, JobID: job.ID, Job: job, Err: err})
		return
	}
	w.finishEp.fail(err)
	w.emitEvent(WorkerEvent{Type: EventError, JobID: job.ID, Job: job, Err: err})
}

// maxStackBytes bounds one stored stack trace.
const maxStackBytes = 16 << 10

// stacktraceJSON appends this failure's stack to the job's and trims the
// list to stackTraceLimit, as Node does.
func stacktraceJSON(job *Job, stack string) string {
	if len(stack) > maxStackBytes {
		stack = stack[:maxStackBytes]
	}
	list := append(append([]string(nil), job.Stacktrace...), stack)
	limit, set := job.Opts.StackTraceLimit, job.Opts.StackTraceLimit != 0
	if !set && len(job.RawOpts) > 0 {
		var raw map[string]json.RawMessage
		if json.Unmarshal(job.RawOpts, &raw) == nil {
			if v, ok := raw["stackTraceLimit"]; ok && string(v) == "0" {
				set = true
			}
		}
	}
	if set {
		if limit <= 0 {
			list = list[:0]
		} else if len(list) > limit {
			list = list[len(list)-limit:]
		}
	}
	b, _ := marshalJSON(list)
	return string(b)
}

// fail records a failed attempt: retry (with backoff → delayed, without →
// wait) or fail for good (§9.10).
func (w *Worker) fail(job *Job, token string, herr error, stack string) (fetchReply, string, bool) {
	reason := herr.Error()
	if stack == "" {
		stack = errorStack(herr, nil)
	}
	st := stacktraceJSON(job, stack)
	retry, delay := w.retryDecision(job, herr)
	if retry {
		var maybeApplied bool
		var err error
		if delay > 0 {
			_, maybeApplied, err = w.finishRecord(job, token, "d", job.ID, token, delay, reason, st)
		} else {
			_, maybeApplied, err = w.finishRecord(job, token, "r", job.ID, token, boolArg(job.Opts.LIFO), reason, st)
		}
		if err != nil && w.finishedBefore(job, err, maybeApplied, false, StateDelayed, StateWaiting, StatePrioritized) {
			err = nil
		}
		if err != nil {
			w.finishFailed(job, "retry", err)
			return fetchReply{}, "", true
		}
		w.finishEp.ok()
		w.emitEvent(WorkerEvent{Type: EventRetrying, JobID: job.ID, Job: job, Err: herr})
		// No fetch-next on these paths: free the slot, the fetch loop (or
		// the marker the retry wrote) takes over.
		return fetchReply{}, "", true
	}
	r, next, err := w.finish(job, token, "failed", reason, job.Opts.RemoveOnFail, st)
	if err != nil {
		w.finishFailed(job, "fail", err)
		return fetchReply{}, "", true
	}
	w.finishEp.ok()
	job.FailedReason = reason
	w.emitEvent(WorkerEvent{Type: EventFailed, JobID: job.ID, Job: job, Err: herr})
	return r, next, true
}

// retryDecision applies Node's retry rule (§9.10): another attempt iff
// attempts are left, the error is not unrecoverable and the started
// attempts allow it; delay (ms) is the backoff, 0 for none.
func (w *Worker) retryDecision(job *Job, herr error) (retry bool, delay int64) {
	retry = job.AttemptsMade+1 < job.Opts.Attempts && !errors.Is(herr, ErrUnrecoverable) &&
		!(w.opts.MaxStartedAttempts > 0 && w.opts.MaxStartedAttempts <= job.AttemptsStarted)
	if !retry {
		return false, 0
	}
	d, ok := backoffDelay(job.Opts.Backoff, job.AttemptsMade+1, rand.Float64)
	if !ok {
		w.log.Warn("[Queue] unknown backoff type; failing the job without retry",
			slog.String("job", job.ID), slog.String("type", job.Opts.Backoff.Type))
		return false, 0
	}
	return true, d
}

// handBackStuck hands back the jobs whose handlers ignored their cancelled
// context past Close's grace: the locks are still this worker's, so the
// jobs go back to wait now instead of staying active until the stalled
// check; whatever such a handler returns later is discarded, as after a
// lost lock.
func (w *Worker) handBackStuck() {
	w.mu.Lock()
	stuck := make([]*activeJob, 0, len(w.active))
	for _, aj := range w.active {
		stuck = append(stuck, aj)
	}
	w.mu.Unlock()
	var wg sync.WaitGroup
	for _, aj := range stuck {
		if !aj.lost.Swap(true) {
			wg.Add(1)
			go func() { defer wg.Done(); w.handBack(aj.job, aj.token) }()
		}
	}
	wg.Wait()
}

// handBack returns a job interrupted by Close to the front of the queue.
func (w *Worker) handBack(job *Job, token string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.runCtx), closeGrace)
	defer cancel()
	if _, err := scriptMoveToWait.run(ctx, w.c, job.ID, w.wkeys, w.k.base, job.ID, token); err != nil {
		w.log.Warn("[Queue] could not hand back an interrupted job; the stalled check will recover it",
			slog.String("job", job.ID), slog.String("error", err.Error()))
		return
	}
	w.log.Info("[Queue] job interrupted by shutdown, moved back to wait", slog.String("job", job.ID))
}
