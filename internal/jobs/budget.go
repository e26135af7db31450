package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Default time budget of one attempt of a job, per queue. The local
// implementations finish in microseconds; the budgets are sized for the
// production services plugged in behind them (a transcoder, an RPC node…).
var DefaultTimeouts = map[string]time.Duration{
	VideoEnhancement: 30 * time.Minute,
	Analytics:        time.Minute,
	BlockchainSync:   10 * time.Minute,
	MemoryMining:     2 * time.Minute,
	PrivacyAudit:     5 * time.Minute,
}

// MaxTimeout bounds a queue's configured time budget.
const MaxTimeout = 24 * time.Hour

// DefaultAbandonAfter is how long a handler may keep running after its
// context ended before its job is failed without it.
const DefaultAbandonAfter = 2 * time.Second

// Errors of a run that did not end normally.
var (
	// ErrJobTimeout: an attempt ran past its queue's time budget. The
	// error is a *TimeoutError; it also matches context.DeadlineExceeded.
	ErrJobTimeout = errors.New("jobs: job exceeded its time budget")
	// ErrHandlerPanic: the handler panicked. The error is a *PanicError.
	ErrHandlerPanic = errors.New("jobs: handler panicked")
)

// TimeoutError is an attempt that exceeded its queue's time budget.
type TimeoutError struct {
	Queue  string
	Budget time.Duration
	// Abandoned is true when the handler did not return once its context
	// ended: its goroutine was left running and the job failed without it.
	Abandoned bool
}

func (e *TimeoutError) Error() string {
	s := fmt.Sprintf("%s: job exceeded its time budget of %s", e.Queue, e.Budget)
	if e.Abandoned {
		s += " and its handler did not stop (abandoned)"
	}
	return s
}

// Unwrap makes errors.Is match ErrJobTimeout and context.DeadlineExceeded.
func (e *TimeoutError) Unwrap() []error { return []error{ErrJobTimeout, context.DeadlineExceeded} }

// PanicError is a handler panic turned into a job failure. Error() names
// the panic value only; the stack is in Stack (and in the log), never in
// an HTTP answer.
type PanicError struct {
	Queue string
	Value string
	Stack string
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("%s: handler panicked: %s", e.Queue, e.Value)
}

func (e *PanicError) Unwrap() error { return ErrHandlerPanic }

// abandonedError is a handler that did not return after its caller's
// context (not the budget) ended.
type abandonedError struct {
	queue string
	cause error
}

func (e *abandonedError) Error() string {
	return fmt.Sprintf("%s: handler did not stop after its context ended (%v): abandoned", e.queue, e.cause)
}

func (e *abandonedError) Unwrap() error { return e.cause }

// logHandlerTrouble logs a handler panic (with its stack, which job
// failures and HTTP answers do not carry) or an abandoned handler.
func logHandlerTrouble(log *slog.Logger, reg *Registry, queueName, jobID string, err error) {
	var pe *PanicError
	switch {
	case errors.As(err, &pe):
		log.Error("[Jobs] handler panicked; the job failed", "queue", queueName, "job", jobID, "panic", pe.Value, "stack", pe.Stack)
	case isAbandoned(err):
		log.Error("[Jobs] handler ignored its context and was abandoned; the job failed, the handler keeps running in the background",
			"queue", queueName, "job", jobID, "abandoned_total", reg.Abandoned())
	}
}

// logJobRun writes the per-job line, at debug level: one per handler run,
// queued (mode "queued", id set) or in-process (mode "sync"), with how long
// it took and its outcome. The error text is the handler's; payloads are
// never logged.
func logJobRun(ctx context.Context, log *slog.Logger, mode Mode, queueName, jobID, name string, attempt int, took time.Duration, err error) {
	if !log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{slog.String("queue", queueName), slog.String("mode", string(mode)), slog.String("name", name),
		slog.Int("attempt", attempt), slog.Duration("took", took)}
	if jobID != "" {
		attrs = append(attrs, slog.String("id", jobID))
	}
	if err != nil {
		attrs = append(attrs, slog.String("outcome", "error"), slog.String("error", truncate(err.Error(), 200)))
	} else {
		attrs = append(attrs, slog.String("outcome", "ok"))
	}
	log.LogAttrs(ctx, slog.LevelDebug, "[Jobs] job ran", attrs...)
}

// isAbandoned reports a run whose handler was left running.
func isAbandoned(err error) bool {
	var te *TimeoutError
	var ae *abandonedError
	return errors.As(err, &ae) || errors.As(err, &te) && te.Abandoned
}

// budget runs a queue's handler under its time budget.
type budget struct {
	queue        string
	timeout      time.Duration
	abandonAfter time.Duration
	abandoned    *atomic.Int64
}

type runResult struct {
	res any
	err error
}

// errBudget is the cancel cause of a context whose budget ran out.
var errBudget = errors.New("time budget exceeded")

// run calls fn in its own goroutine with a context that ends after the
// budget. A panic becomes a *PanicError. Past the budget (or once ctx
// ends) the handler gets abandonAfter to return; if it does not, run
// returns without it (the goroutine cannot be killed: it is counted) so
// that only this job fails. The Pool and the Dispatcher log both cases
// (logHandlerTrouble).
func (b *budget) run(ctx context.Context, fn func(context.Context) (any, error)) (any, error) {
	bctx, cancel := context.WithTimeoutCause(ctx, b.timeout, errBudget)
	done := make(chan runResult, 1) // buffered: an abandoned handler never blocks
	go func() {
		defer cancel()
		var r runResult
		defer func() {
			if p := recover(); p != nil {
				r = runResult{err: &PanicError{Queue: b.queue, Value: truncate(fmt.Sprint(p), 200), Stack: string(debug.Stack())}}
			}
			done <- r
		}()
		r.res, r.err = fn(bctx)
	}()
	var r runResult
	select {
	case r = <-done:
	case <-bctx.Done():
		t := time.NewTimer(b.abandonAfter)
		select {
		case r = <-done:
			t.Stop()
		case <-t.C:
			b.abandoned.Add(1)
			if context.Cause(bctx) == errBudget && ctx.Err() == nil {
				return nil, &TimeoutError{Queue: b.queue, Budget: b.timeout, Abandoned: true}
			}
			return nil, &abandonedError{queue: b.queue, cause: context.Cause(ctx)}
		}
	}
	if r.err != nil && ctx.Err() == nil && context.Cause(bctx) == errBudget {
		// The handler stopped because its budget ran out.
		var pe *PanicError
		if !errors.As(r.err, &pe) {
			return nil, fmt.Errorf("%w (%v)", &TimeoutError{Queue: b.queue, Budget: b.timeout}, r.err)
		}
	}
	return r.res, r.err
}

// ParseTimeouts reads per-queue time budgets written as
// "queue=duration,…" ("video-enhancement=45m,analytics=30s"), as a
// deployment setting. Queue names must be ones of Names(); durations are
// Go durations between 1ms and 24h. An empty string means none.
func ParseTimeouts(s string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if !ok || name == "" || val == "" {
			return nil, fmt.Errorf("jobs: timeouts: %q is not queue=duration (e.g. analytics=30s)", truncate(part, 64))
		}
		d, err := time.ParseDuration(val)
		if err != nil {
			return nil, fmt.Errorf("jobs: timeouts: %s: %q is not a duration (e.g. 90s, 10m)", truncate(name, 64), truncate(val, 32))
		}
		out[name] = d
	}
	if err := checkTimeouts(out); err != nil {
		return nil, err
	}
	return out, nil
}

func checkTimeouts(m map[string]time.Duration) error {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, ok := DefaultTimeouts[n]; !ok {
			known := Names()
			sort.Strings(known)
			return fmt.Errorf("jobs: timeouts: %w %q (known: %s)", ErrUnknownQueue, truncate(n, 64), strings.Join(known, ", "))
		}
		if d := m[n]; d < time.Millisecond || d > MaxTimeout {
			return fmt.Errorf("jobs: timeouts: %s: %s is outside 1ms..%s", n, d, MaxTimeout)
		}
	}
	return nil
}
