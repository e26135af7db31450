package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/queue"
	"github.com/zyeute/zyeute-redis/redisconn"
)

// Mode says how a job was accepted.
type Mode string

// Modes.
const (
	// ModeQueued: stored in Redis; a worker runs it.
	ModeQueued Mode = "queued"
	// ModeSync: Redis was not available; the job ran in-process and the
	// caller got its result.
	ModeSync Mode = "sync"
)

// ErrRedisUnavailable: the operation needs Redis, which is not configured
// or not connected.
var ErrRedisUnavailable = errors.New("jobs: Redis unavailable")

// Redis is what this package needs of the shared connection;
// *redisconn.Conn implements it.
type Redis interface {
	// Client is nil when Redis is not configured.
	Client() redis.UniversalClient
	// State is the cached connection state; it never blocks.
	State() redisconn.State
}

// Observer is told about jobs, for metrics. Methods must be quick and safe
// for concurrent use.
type Observer interface {
	// JobEnqueued: a job was accepted, in mode "queued" or "sync"; mode
	// "duplicate" counts adds answered with an existing job (custom id
	// already taken), nothing stored.
	JobEnqueued(queue, mode string)
	// JobRun: one handler attempt took d and returned err.
	JobRun(queue, mode string, d time.Duration, err error)
	// JobFinished: outcome is "completed", "failed" (for good), "retrying",
	// "stalled" or "lock_lost".
	JobFinished(queue, mode, outcome string)
}

type nopObserver struct{}

func (nopObserver) JobEnqueued(string, string)                  {}
func (nopObserver) JobRun(string, string, time.Duration, error) {}
func (nopObserver) JobFinished(string, string, string)          {}

// DispatcherConfig configures a Dispatcher. A nil *DispatcherConfig means
// all defaults.
type DispatcherConfig struct {
	// Prefix is the BullMQ key prefix (QUEUE_PREFIX). Defaults to "bull".
	Prefix string
	// AddTimeout bounds one Redis add; past it the job runs synchronously.
	// Defaults to 2s.
	AddTimeout time.Duration
	// SyncTimeout bounds a synchronous run, retries and backoff included;
	// each attempt is also bounded by the queue's own time budget
	// (Spec.Timeout). Defaults to 30s.
	SyncTimeout time.Duration
	// Logger receives the degraded-mode transitions, and handler panics
	// (with their stack) and abandoned handlers of synchronous runs, and
	// their "[Jobs] job ran" lines at debug level. nil means
	// slog.Default(), as everywhere in this module.
	Logger *slog.Logger
	// Observer is told about every job. Defaults to none.
	Observer Observer
	// MaxInline bounds the jobs run in-process at once (degraded mode):
	// one more is refused with ErrInlineBusy (HTTP 503 + Retry-After)
	// rather than queued in memory, where a crash would lose it.
	// Defaults to DefaultMaxInline.
	MaxInline int
}

// DefaultMaxInline is DispatcherConfig.MaxInline's default.
const DefaultMaxInline = 16

// ErrInlineBusy: Redis is unavailable and MaxInline jobs already run
// in-process; the job was not accepted (retry in a moment).
var ErrInlineBusy error = inlineBusyError{}

// EnqueueOptions are the per-job options a caller may set. A nil
// *EnqueueOptions means the queue's defaults.
type EnqueueOptions struct {
	// JobID is a custom id (BullMQ's rules: not an integer). Re-adding an
	// existing id changes nothing. Defaults to the queue's counter.
	JobID string
	// Delay before the job runs, at most 7 days. Ignored in sync mode (the
	// job runs at once). Defaults to 0.
	Delay time.Duration
	// Priority from 1 (highest) to 2 097 151; 0 means none. Ignored in sync
	// mode. Defaults to 0.
	Priority int
	// Attempts in all, 1–25. Defaults to 3.
	Attempts int
}

// MaxDelay and MaxAttempts bound EnqueueOptions.
const (
	MaxDelay    = 7 * 24 * time.Hour
	MaxAttempts = 25
)

// Result is the outcome of Enqueue.
type Result struct {
	Queue string `json:"queue"`
	Name  string `json:"name"`
	Mode  Mode   `json:"mode"`
	// ID of the stored job (queued mode).
	ID string `json:"id,omitempty"`
	// Result of the handler, JSON (sync mode).
	Result json.RawMessage `json:"result,omitempty"`
	// Attempts made (sync mode).
	Attempts int `json:"attempts,omitempty"`
	// DelayIgnored is true when a delay was asked for but the job ran at
	// once (sync mode).
	DelayIgnored bool `json:"delay_ignored,omitempty"`
	// Duplicate is true when the custom job id was already taken: nothing
	// was stored, ID and State are the existing job's (queued mode).
	Duplicate bool   `json:"duplicate,omitempty"`
	State     string `json:"state,omitempty"`
}

// JobFailedError is a synchronous run that failed for good.
type JobFailedError struct {
	Queue    string
	Attempts int
	Err      error
}

func (e *JobFailedError) Error() string {
	return fmt.Sprintf("%s: job failed after %d attempt(s) (run synchronously): %v", e.Queue, e.Attempts, e.Err)
}

func (e *JobFailedError) Unwrap() error { return e.Err }

// Dispatcher accepts jobs: into Redis when it is connected, else it runs
// them in-process (degraded mode). Safe for concurrent use.
type Dispatcher struct {
	reg      *Registry
	redis    Redis
	cfg      DispatcherConfig
	log      *slog.Logger
	obs      Observer
	queues   map[string]*queue.Queue
	degraded atomic.Bool
	inline   chan struct{} // one token per job running in-process
}

// NewDispatcher returns a dispatcher for the registry's queues. r may be
// nil (no Redis: every job runs synchronously); the dispatcher does not
// own it.
func NewDispatcher(reg *Registry, r Redis, cfg *DispatcherConfig) (*Dispatcher, error) {
	if reg == nil {
		return nil, errors.New("jobs: nil registry")
	}
	var c DispatcherConfig
	if cfg != nil {
		c = *cfg
	}
	if c.Prefix == "" {
		c.Prefix = queue.DefaultPrefix
	}
	if c.AddTimeout == 0 {
		c.AddTimeout = 2 * time.Second
	}
	if c.SyncTimeout == 0 {
		c.SyncTimeout = 30 * time.Second
	}
	if c.AddTimeout < 0 || c.SyncTimeout < 0 || c.MaxInline < 0 {
		return nil, errors.New("jobs: AddTimeout, SyncTimeout and MaxInline must not be negative")
	}
	if c.MaxInline == 0 {
		c.MaxInline = DefaultMaxInline
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	d := &Dispatcher{reg: reg, redis: r, cfg: c, log: c.Logger, obs: c.Observer, queues: map[string]*queue.Queue{},
		inline: make(chan struct{}, c.MaxInline)}
	if r != nil && r.Client() != nil {
		for _, n := range reg.Names() {
			q, err := queue.NewQueue(r.Client(), n, &queue.QueueOptions{Prefix: c.Prefix, MaxDataSize: MaxPayloadSize, Logger: c.Logger})
			if err != nil {
				return nil, fmt.Errorf("jobs: %w", err)
			}
			d.queues[n] = q
		}
	}
	return d, nil
}

// Registry is the dispatcher's registry.
func (d *Dispatcher) Registry() *Registry { return d.reg }

// Queue returns the queue.Queue of name, or nil when Redis is not
// configured or the name is unknown.
func (d *Dispatcher) Queue(name string) *queue.Queue { return d.queues[name] }

// available reports whether Redis can take jobs now.
func (d *Dispatcher) available() bool {
	return d.redis != nil && d.redis.Client() != nil && d.redis.State() == redisconn.Connected
}

// AddOptionsFor checks the caller's options and merges them over the
// queue defaults (DefaultAddOptions). Errors are *ValidationError naming
// the option as the HTTP API spells it ("opts.delay_ms").
func AddOptionsFor(o *EnqueueOptions) (*queue.AddOptions, error) {
	ao := DefaultAddOptions()
	if o == nil {
		return ao, nil
	}
	if err := queue.ValidateJobID(o.JobID); err != nil {
		var oe *queue.OptionError
		if errors.As(err, &oe) {
			return nil, fieldError("opts.job_id", "%s", oe.Reason)
		}
		return nil, fieldError("opts.job_id", "%v", err)
	}
	if err := checkID("opts.job_id", o.JobID, false); err != nil {
		return nil, err
	}
	if o.Delay < 0 || o.Delay > MaxDelay {
		return nil, fieldError("opts.delay_ms", "must be between 0 and %d", MaxDelay.Milliseconds())
	}
	if o.Priority < 0 || o.Priority > queue.MaxPriority {
		return nil, fieldError("opts.priority", "must be between 0 and %d", queue.MaxPriority)
	}
	if o.Attempts != 0 {
		if o.Attempts < 1 || o.Attempts > MaxAttempts {
			return nil, fieldError("opts.attempts", "must be between 1 and %d", MaxAttempts)
		}
		ao.Attempts = o.Attempts
	}
	ao.JobID, ao.Delay, ao.Priority = o.JobID, o.Delay, o.Priority
	return ao, nil
}

// Enqueue accepts one job for queueName. The payload is validated first
// (*ValidationError, errors.Is ErrInvalidPayload; an unknown queue wraps
// ErrUnknownQueue). With Redis connected the job is stored (one round trip)
// and the result carries its id, mode "queued". With Redis not configured
// or disconnected, or when the add fails with a connection error, the
// handler runs now in the caller's goroutine with the job's attempts and
// backoff, bounded by SyncTimeout, and the result carries its return value,
// mode "sync"; a final failure is a *JobFailedError.
//
// An add that timed out may still have reached Redis; the job then runs
// twice (at least once delivery).
func (d *Dispatcher) Enqueue(ctx context.Context, queueName, name string, data json.RawMessage, opts *EnqueueOptions) (*Result, error) {
	spec, err := d.reg.Spec(queueName)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = queueName
	}
	if len(name) > 256 || strings.ContainsAny(name, "\r\n") {
		return nil, &ValidationError{Queue: queueName, Field: "name", Reason: "must be at most 256 characters on one line"}
	}
	if err := spec.Validate(data); err != nil {
		return nil, err
	}
	ao, err := AddOptionsFor(opts)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.Queue = queueName
		}
		return nil, err
	}
	if d.available() {
		actx, cancel := context.WithTimeout(ctx, d.cfg.AddTimeout)
		job, outcome, err := d.queues[queueName].AddWithOutcome(actx, name, data, ao)
		cancel()
		if err == nil {
			if d.degraded.CompareAndSwap(true, false) {
				d.log.Info("[Jobs] Redis available again: jobs are queued")
			}
			return d.queuedResult(ctx, queueName, name, job.ID, outcome), nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !redisconn.IsConnError(err) {
			return nil, fmt.Errorf("jobs: adding to %s: %w", queueName, err)
		}
		d.enterDegraded("add failed: " + redisconn.Explain(err))
	} else {
		reason := "Redis not configured"
		if d.redis != nil && d.redis.Client() != nil {
			reason = "Redis " + string(d.redis.State())
		}
		d.enterDegraded(reason)
	}
	return d.runSync(ctx, spec, name, data, ao)
}

func (d *Dispatcher) enterDegraded(reason string) {
	if d.degraded.CompareAndSwap(false, true) {
		d.log.Warn("[Jobs] Redis unavailable: running jobs synchronously in-process", "reason", reason)
	}
}

// runSync runs the handler in-process with the job's attempts and backoff.
func (d *Dispatcher) runSync(ctx context.Context, spec *Spec, name string, data json.RawMessage, ao *queue.AddOptions) (*Result, error) {
	select {
	case d.inline <- struct{}{}:
		defer func() { <-d.inline }()
	default:
		d.obs.JobEnqueued(spec.Name, "busy")
		return nil, ErrInlineBusy
	}
	d.obs.JobEnqueued(spec.Name, string(ModeSync))
	ctx, cancel := context.WithTimeout(ctx, d.cfg.SyncTimeout)
	defer cancel()
	attempts := max(ao.Attempts, 1)
	var lastErr error
	made := 0
	for made < attempts {
		made++
		start := time.Now()
		res, err := safeRun(ctx, spec, data)
		took := time.Since(start)
		d.obs.JobRun(spec.Name, string(ModeSync), took, err)
		logJobRun(ctx, d.log, ModeSync, spec.Name, "", name, made, took, err)
		logHandlerTrouble(d.log, d.reg, spec.Name, "", err)
		if err == nil {
			b, err := json.Marshal(res)
			if err != nil {
				lastErr = fmt.Errorf("result cannot be encoded as JSON: %w", err)
				break
			}
			d.obs.JobFinished(spec.Name, string(ModeSync), "completed")
			return &Result{Queue: spec.Name, Name: name, Mode: ModeSync, Result: b, Attempts: made, DelayIgnored: ao.Delay > 0}, nil
		}
		lastErr = err
		if errors.Is(err, ErrInvalidPayload) || errors.Is(err, queue.ErrUnrecoverable) || errors.Is(err, ErrHandlerPanic) ||
			isAbandoned(err) || ctx.Err() != nil || made == attempts {
			break
		}
		wait, ok := queue.BackoffDelay(ao.Backoff, made)
		if !ok {
			lastErr = fmt.Errorf("%w (not retried: unknown backoff type %q)", err, ao.Backoff.Type)
			break
		}
		d.obs.JobFinished(spec.Name, string(ModeSync), "retrying")
		if !sleepCtx(ctx, wait) {
			lastErr = fmt.Errorf("%w (gave up waiting to retry: %v)", err, context.Cause(ctx))
			break
		}
	}
	d.obs.JobFinished(spec.Name, string(ModeSync), "failed")
	return nil, &JobFailedError{Queue: spec.Name, Attempts: made, Err: lastErr}
}

// safeRun is spec.Run (which already recovers handler panics under the
// queue's time budget) with a last guard for a panic while decoding.
func safeRun(ctx context.Context, spec *Spec, data json.RawMessage) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Queue: spec.Name, Value: truncate(fmt.Sprint(p), 200), Stack: string(debug.Stack())}
		}
	}()
	return spec.Run(ctx, data)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// JobInfo is a stored job as the API shows it. The job's input data is
// not included: the submitter has it, and the job endpoint is not an
// admin route.
type JobInfo struct {
	ID           string          `json:"id"`
	Queue        string          `json:"queue"`
	Name         string          `json:"name"`
	State        string          `json:"state"`
	Progress     json.RawMessage `json:"progress,omitempty"`
	Result       json.RawMessage `json:"result,omitempty"`
	FailedReason string          `json:"failed_reason,omitempty"`
	AttemptsMade int             `json:"attempts_made"`
	Attempts     int             `json:"attempts"`
	Priority     int             `json:"priority,omitempty"`
	DelayMS      int64           `json:"delay_ms,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
	ProcessedAt  *time.Time      `json:"processed_at,omitempty"`
	FinishedAt   *time.Time      `json:"finished_at,omitempty"`
}

func msTime(ms int64) *time.Time {
	if ms <= 0 {
		return nil
	}
	t := time.UnixMilli(ms).UTC()
	return &t
}

// Job reads job id of queueName with its state. Errors: ErrUnknownQueue,
// ErrRedisUnavailable, queue.ErrJobNotFound.
func (d *Dispatcher) Job(ctx context.Context, queueName, id string) (*JobInfo, error) {
	if _, err := d.reg.Spec(queueName); err != nil {
		return nil, err
	}
	if !d.available() {
		return nil, d.unavailable()
	}
	q := d.queues[queueName]
	// State first, then the hash: a job that finished in between shows a
	// finishedOn with a non-final state, and the state is read again.
	st, err := q.GetState(ctx, id)
	if err != nil {
		return nil, err
	}
	j, err := q.GetJob(ctx, id)
	var mal *queue.MalformedJobError
	if err != nil && !errors.As(err, &mal) {
		return nil, err
	}
	if j.FinishedOn > 0 && st != queue.StateCompleted && st != queue.StateFailed {
		if st, err = q.GetState(ctx, id); err != nil {
			return nil, err
		}
	}
	info := &JobInfo{ID: j.ID, Queue: queueName, Name: j.Name, State: string(st), Progress: j.Progress,
		Result: j.ReturnValue, FailedReason: j.FailedReason, AttemptsMade: j.AttemptsMade, Attempts: j.Opts.Attempts,
		Priority: j.Priority, DelayMS: j.Delay, CreatedAt: time.UnixMilli(j.Timestamp).UTC(),
		ProcessedAt: msTime(j.ProcessedOn), FinishedAt: msTime(j.FinishedOn)}
	if mal != nil && info.FailedReason == "" {
		info.FailedReason = mal.Reason
	}
	return info, nil
}

// unavailable explains why Redis cannot be used now.
func (d *Dispatcher) unavailable() error {
	return redisUnavailable(d.redis)
}

func redisUnavailable(r Redis) error {
	if r == nil || r.Client() == nil {
		return &UnavailableError{Reason: "not configured (degraded mode: jobs run synchronously and are not stored)"}
	}
	return &UnavailableError{Reason: string(r.State()) + " (jobs run synchronously until it is back)"}
}
