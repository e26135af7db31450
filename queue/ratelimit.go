package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrRateLimit is what RateLimitError returns. Its text is BullMQ's
// ("bullmq:rateLimitExceeded"), so Node tooling reads it the same way.
var ErrRateLimit = errors.New("bullmq:rateLimitExceeded")

// RateLimitError is the error a handler returns after Worker.RateLimit
// (or Queue.RateLimit), as Node's `throw Worker.RateLimitError()`: the
// job goes back to wait (the front of its priority; no attempt is
// counted, `waiting` prev=`active` is emitted) and this worker fetches no
// job until the limiter key expires (at most MaxRateLimitDelay at a time).
func RateLimitError() error { return ErrRateLimit }

func isRateLimitError(err error) bool {
	return errors.Is(err, ErrRateLimit) || err.Error() == ErrRateLimit.Error()
}

// manualLimit is the limiter value of a manual rate limit (Number.MAX_SAFE_INTEGER,
// as Node writes it): any configured max is reached.
const manualLimit = 9007199254740991

// RateLimit makes the queue rate-limited for d, as Node's
// queue.rateLimit(ms): the `limiter` key is set to a count no max allows,
// with a TTL of d. Every worker, Go or Node, that has a rate limit (its
// own Limiter, or the queue's global one) starts no job until the key
// expires; a worker without any rate limit ignores it, as in BullMQ.
func (q *Queue) RateLimit(ctx context.Context, d time.Duration) error {
	if d < time.Millisecond {
		return optErr("duration", "must be at least 1ms, got %s", d)
	}
	if err := q.c.Set(ctx, q.k.limiter(), manualLimit, d).Err(); err != nil {
		return fmt.Errorf("queue: rate limit: %w", err)
	}
	return nil
}

// RateLimit is Queue.RateLimit on the worker's queue, as Node's
// worker.rateLimit(ms). Call it in a handler, then return
// RateLimitError() to put the job back.
func (w *Worker) RateLimit(ctx context.Context, d time.Duration) error {
	return w.q.RateLimit(ctx, d)
}

// moveLimitedBackToWait puts a job whose handler returned RateLimitError
// back at the front of the queue (protocol §9.11) and makes this worker
// wait for the limiter's TTL.
func (w *Worker) moveLimitedBackToWait(job *Job, token string) {
	// Not cancelled by Close: the job must not be left active.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.runCtx), closeGrace)
	defer cancel()
	res, err := scriptMoveToWait.run(ctx, w.c, job.ID, w.wkeys, w.k.base, job.ID, token)
	if err != nil {
		w.finishFailed(job, "move back (rate limited)", err)
		return
	}
	if ttl, _ := res.(int64); ttl > 0 {
		w.limitUntil.Store(w.now() + ttl)
	}
	w.log.Debug("[Queue] job moved back to wait: rate limited", slog.String("job", job.ID))
}

// rateLimitWait is how long the fetch loop must wait for a rate limit a
// handler reported (capped at MaxRateLimitDelay), 0 for none; it clears
// the mark, as Node does after its wait.
func (w *Worker) rateLimitWait() time.Duration {
	until := w.limitUntil.Swap(0)
	if until == 0 {
		return 0
	}
	d := time.Duration(until-w.now()) * time.Millisecond
	if d <= 0 {
		return 0
	}
	return min(d, w.opts.MaxRateLimitDelay)
}
