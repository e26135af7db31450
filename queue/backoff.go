package queue

import (
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// BackoffDelay is the wait before retrying a job whose attemptsMade-th
// attempt (1-based) just failed, computed as a BullMQ worker does: fixed or
// exponential, with jitter when b.Jitter > 0. Every retry of this module
// uses it: the workers, and the in-process fallback of callers that run a
// job themselves when Redis is away. ok is false for an unknown b.Type (a
// worker then fails the job without retrying); nil b waits 0.
func BackoffDelay(b *Backoff, attemptsMade int) (d time.Duration, ok bool) {
	ms, ok := backoffDelay(b, attemptsMade, rand.Float64)
	return time.Duration(ms) * time.Millisecond, ok
}

// backoffDelay is BullMQ's built-in backoff (protocol §11.7) for the
// attemptsMade-th attempt (atm + 1). ok is false for an unknown type.
//
//	fixed:        delay; with jitter j a uniform integer in [delay·(1−j), delay)
//	exponential:  round(2^(n−1)·delay); with jitter uniform in [max·(1−j), max)
func backoffDelay(b *Backoff, attemptsMade int, rnd func() float64) (ms int64, ok bool) {
	if b == nil {
		return 0, true
	}
	delay := float64(b.Delay / time.Millisecond)
	var base float64
	switch b.Type {
	case "fixed":
		base = delay
	case "exponential":
		base = math.Pow(2, float64(attemptsMade-1)) * delay
	default:
		return 0, false
	}
	if b.Jitter > 0 {
		return int64(math.Floor(rnd()*base*b.Jitter + base*(1-b.Jitter))), true
	}
	if b.Type == "exponential" {
		return int64(math.Round(base)), true
	}
	return int64(base), true
}

// retryBackoff is the capped exponential backoff with jitter used by every
// background loop while Redis fails.
type retryBackoff struct {
	min, max time.Duration
	n        int
}

func (b *retryBackoff) next() time.Duration {
	d := b.min << min(b.n, 16)
	if d > b.max || d <= 0 {
		d = b.max
	}
	b.n++
	// full jitter in [d/2, d)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (b *retryBackoff) reset() { b.n = 0 }

// episode logs a failing operation once when it starts failing and once
// when it recovers, instead of once per attempt.
type episode struct {
	mu       sync.Mutex
	log      *slog.Logger
	what     string
	failing  bool
	since    time.Time
	failures int
}

func (e *episode) fail(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failures++
	if !e.failing {
		e.failing, e.since = true, time.Now()
		e.log.Warn("[Queue] Redis operation failing; retrying with backoff", slog.String("operation", e.what), slog.String("error", err.Error()))
	}
}

func (e *episode) ok() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failing {
		e.log.Info("[Queue] Redis operation recovered", slog.String("operation", e.what),
			slog.Duration("after", time.Since(e.since).Round(time.Millisecond)),
			slog.Int("failures", e.failures))
	}
	e.failing, e.failures = false, 0
}
