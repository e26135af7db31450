package queue

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Queue-wide admin operations as Node BullMQ's queue.drain, queue.clean and
// queue.obliterate (protocol §9.16). Every one runs as a series of bounded
// script calls, so a large queue never blocks Redis for long.

var (
	scriptDrain      = newScript("drain")
	scriptClean      = newScript("clean")
	scriptObliterate = newScript("obliterate")
)

// adminBatch is how many jobs one drain or obliterate script call removes
// by default.
const adminBatch = 1000

// maxAdminCalls bounds every admin loop; each call removes a full batch
// while jobs remain, so this is never reached on a real queue.
const maxAdminCalls = 1 << 22

// Drain removes every job waiting to run — wait, the legacy paused list,
// prioritized and, when delayed is true, delayed — as Node's
// queue.drain(delayed). Active, completed, failed and waiting-children
// jobs stay, and so does the current iteration of every job scheduler.
// A removed flow child is detached from its parent: a parent in this
// queue left without dependencies is deleted as well, a parent in another
// queue moves to its wait. Deduplication keys owned by removed jobs go.
// No event is written (as Node). The jobs are removed in batches of 1000
// ids per script call.
func (q *Queue) Drain(ctx context.Context, delayed bool) error {
	states := []string{"wait", "paused"}
	if delayed {
		states = append(states, "delayed")
	}
	states = append(states, "prioritized")
	for _, s := range states {
		if err := q.repeatUntilZero(ctx, "drain "+s, func() (any, error) {
			return scriptDrain.run(ctx, q.c, "", []string{q.k.meta()}, q.k.base, s, adminBatch)
		}); err != nil {
			return err
		}
	}
	return nil
}

// repeatUntilZero runs call until it answers 0 (bounded).
func (q *Queue) repeatUntilZero(ctx context.Context, what string, call func() (any, error)) error {
	for range maxAdminCalls {
		res, err := call()
		if err != nil {
			return err
		}
		if n, _ := res.(int64); n == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("queue: %s: %w", what, err)
		}
	}
	return fmt.Errorf("queue: %s did not finish", what)
}

// cleanBatch is the most jobs one clean script call removes (Node's cap).
const cleanBatch = 10000

// Clean removes the jobs of state that are older than grace and returns
// their ids, as Node's queue.clean(grace, limit, type). state is one of
// StateCompleted (the default when empty), StateFailed, StateDelayed,
// StateWaiting (or "wait"), StatePaused (legacy list), StateActive,
// StatePrioritized. A job's age is measured from finishedOn for
// completed and failed jobs, from processedOn (else timestamp) for delayed
// ones, from timestamp for prioritized ones, and from the first of
// finishedOn, processedOn, timestamp for wait, paused and active; list
// states are scanned from their oldest end. Active jobs a worker still
// holds (locked) and the current iterations of job schedulers are never
// removed. Removed jobs are detached from their flow parents as Drain
// does, their deduplication keys released.
//
// limit caps how many jobs are removed; 0 means no limit. Jobs are removed
// in script calls of at most 10000 ids; each call writes a `cleaned` event
// with its count, as Node does, and Clean stops after a call that removed
// fewer than it was allowed to. (Node's last call may overshoot a limit
// above 10000 by up to a batch; Clean never removes more than limit.)
func (q *Queue) Clean(ctx context.Context, grace time.Duration, limit int, state JobState) ([]string, error) {
	var suffix string
	switch state {
	case "", StateCompleted:
		suffix = "completed"
	case StateFailed, StateDelayed, StatePrioritized, StateActive, StatePaused:
		suffix = string(state)
	case StateWaiting, "wait":
		suffix = "wait"
	default:
		return nil, optErr("state", "Clean takes completed, failed, delayed, prioritized, waiting, paused or active, not %.64q", string(state))
	}
	if limit < 0 {
		return nil, optErr("limit", "must not be negative, got %d", limit)
	}
	if grace < 0 {
		return nil, optErr("grace", "must not be negative, got %s", grace)
	}
	batch := cleanBatch
	if limit > 0 && limit < batch {
		batch = limit
	}
	cutoff := q.opts.Now().Add(-grace).UnixMilli()
	var out []string
	for range maxAdminCalls {
		if limit > 0 && limit-len(out) < batch {
			batch = limit - len(out) // Node would remove a whole batch more
		}
		res, err := scriptClean.run(ctx, q.c, "", []string{q.k.meta()}, q.k.base, suffix, cutoff, batch)
		if err != nil {
			return out, err
		}
		arr, _ := res.([]any)
		for _, v := range arr {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		if len(arr) < batch || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("queue: clean: %w", err)
		}
	}
	return out, errors.New("queue: clean did not finish")
}

// ObliterateOptions tune Obliterate. A nil *ObliterateOptions means the
// defaults.
type ObliterateOptions struct {
	// Force obliterates even while jobs are active (their locks are
	// deleted; the workers running them will fail to finish them).
	// Defaults to false: ErrActiveJobs.
	Force bool
	// Count is how many jobs one script call removes. Defaults to 1000.
	Count int
}

// Errors of Obliterate.
var (
	// ErrActiveJobs: the queue has active jobs and Force was not set.
	ErrActiveJobs = errors.New("queue: cannot obliterate a queue with active jobs")
	// ErrNotPaused: the queue was resumed while Obliterate ran.
	ErrNotPaused = errors.New("queue: cannot obliterate a queue that is not paused")
)

// Obliterate deletes the queue and all its jobs, as Node's
// queue.obliterate({force, count}): it pauses the queue first (writing the
// `paused` event), then removes, Count jobs per script call, the active
// jobs (only with Force; else ErrActiveJobs and nothing more is removed),
// delayed, the job schedulers, completed, wait, the legacy paused list,
// prioritized and failed jobs with their sub-keys, then the queue's keys:
// events, meta (so the queue is no longer paused, nor known to
// discovery), id, pc, marker, stalled, stalled-check, metrics. Like Node it
// leaves the waiting-children set (flow parents still waiting) and the
// rate limiter key.
func (q *Queue) Obliterate(ctx context.Context, opts *ObliterateOptions) error {
	var o ObliterateOptions
	if opts != nil {
		o = *opts
	}
	if o.Count < 0 {
		return optErr("Count", "must not be negative, got %d", o.Count)
	}
	if o.Count == 0 {
		o.Count = adminBatch
	}
	if err := q.Pause(ctx); err != nil {
		return err
	}
	for range maxAdminCalls {
		res, err := scriptObliterate.run(ctx, q.c, "", []string{q.k.meta()}, q.k.base, o.Count, boolArg(o.Force))
		if err != nil {
			return err
		}
		switch n, _ := res.(int64); n {
		case 0:
			return nil
		case 1:
		case 2:
			return fmt.Errorf("queue: obliterate %s: %w", q.name, ErrActiveJobs)
		case 3:
			return fmt.Errorf("queue: obliterate %s: %w", q.name, ErrNotPaused)
		default:
			return fmt.Errorf("queue: obliterate %s: unexpected reply %v", q.name, res)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("queue: obliterate: %w", err)
		}
	}
	return errors.New("queue: obliterate did not finish")
}
