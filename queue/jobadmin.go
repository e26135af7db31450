package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

var (
	scriptUpdateData     = newScript("updateData")
	scriptChangePriority = newScript("changePriority")
	scriptChangeDelay    = newScript("changeDelay")
	scriptPromote        = newScript("promote")
)

func (j *Job) bound() error {
	if j.q == nil {
		return errors.New("queue: job not bound to a queue (get it from Queue.Add, Queue.GetJob, Queue.GetJobs or a Worker)")
	}
	return nil
}

// UpdateData replaces the job's data with data (encoded as Queue.Add
// encodes it), as Node's job.updateData. It returns ErrJobNotFound when the
// job no longer exists.
func (j *Job) UpdateData(ctx context.Context, data any) error {
	if err := j.bound(); err != nil {
		return err
	}
	s, err := encodeData(data, j.q.opts.MaxDataSize)
	if err != nil {
		return err
	}
	if _, err := scriptUpdateData.run(ctx, j.q.c, j.ID, []string{j.q.k.job(j.ID)}, s); err != nil {
		return err
	}
	j.Data = json.RawMessage(s)
	return nil
}

// ChangePriority sets the job's priority (0 … MaxPriority; 0 is none), as Node's
// job.changePriority({priority, lifo}): a job waiting to run is re-queued
// under the new priority, after the jobs of equal priority (before them
// when lifo). A job in another state only has its `priority` field changed
// and keeps it for its next run. ErrJobNotFound when the job is gone.
func (j *Job) ChangePriority(ctx context.Context, priority int, lifo bool) error {
	if err := j.bound(); err != nil {
		return err
	}
	if priority < 0 || priority > MaxPriority {
		return optErr("priority", "must be between 0 and %d, got %d", MaxPriority, priority)
	}
	k := j.q.k
	if _, err := scriptChangePriority.run(ctx, j.q.c, j.ID,
		[]string{k.wait(), k.paused(), k.meta(), k.prioritized(), k.active(), k.pc(), k.marker()},
		priority, k.base, j.ID, boolArg(lifo)); err != nil {
		return err
	}
	j.Priority = priority
	return nil
}

// ChangeDelay makes a delayed job due delay after now (not after its
// original due time), as Node's job.changeDelay, emitting `delayed`. It
// returns ErrNotInState when the job is not delayed and ErrJobNotFound
// when it is gone.
func (j *Job) ChangeDelay(ctx context.Context, delay time.Duration) error {
	if err := j.bound(); err != nil {
		return err
	}
	if delay < 0 {
		return optErr("delay", "must not be negative, got %s", delay)
	}
	k := j.q.k
	ms := delay.Milliseconds()
	if _, err := scriptChangeDelay.run(ctx, j.q.c, j.ID,
		[]string{k.delayed(), k.meta(), k.marker(), k.events()},
		ms, j.q.opts.Now().UnixMilli(), j.ID, k.job(j.ID)); err != nil {
		return err
	}
	j.Delay = ms
	return nil
}

// Promote makes a delayed job ready now (wait, or prioritized when it has
// a priority), as Node's job.promote, emitting `waiting` with prev
// "delayed". When the job is not delayed it returns a *StateError (wrapping
// ErrNotInState) naming the state it is in; ErrJobNotFound when it is gone.
func (j *Job) Promote(ctx context.Context) error {
	if err := j.bound(); err != nil {
		return err
	}
	k := j.q.k
	if _, err := scriptPromote.run(ctx, j.q.c, j.ID,
		[]string{k.delayed(), k.wait(), k.paused(), k.meta(), k.prioritized(), k.active(), k.pc(), k.events(), k.marker()},
		k.base, j.ID); err != nil {
		return j.q.stateError(ctx, "promote", j.ID, err, StateDelayed)
	}
	j.Delay = 0
	return nil
}

var scriptRetry = newScript("retry")

// RetryOptions tune Job.Retry.
type RetryOptions struct {
	// ResetAttemptsMade clears attemptsMade (atm), so the job gets its
	// attempts afresh; ResetAttemptsStarted clears attemptsStarted (ats).
	ResetAttemptsMade    bool
	ResetAttemptsStarted bool
}

// Retry moves a finished job (from StateFailed or StateCompleted) back to
// wait (prioritized when it has a priority) as Node's job.retry(state,
// opts): finishedOn, processedOn and the failedReason (or returnvalue) are
// cleared, a flow child is put back among its parent's pending
// dependencies, and `waiting` is emitted with prev the old state. It
// returns a *StateError (wrapping ErrNotInState) naming where the job is
// when it is not in that state, and ErrJobNotFound when it is gone. A nil
// opts resets nothing.
func (j *Job) Retry(ctx context.Context, from JobState, opts *RetryOptions) error {
	if err := j.bound(); err != nil {
		return err
	}
	field := "failedReason"
	switch from {
	case StateFailed:
	case StateCompleted:
		field = "returnvalue"
	default:
		return optErr("state", "Retry takes failed or completed, not %.64q", string(from))
	}
	var o RetryOptions
	if opts != nil {
		o = *opts
	}
	k := j.q.k
	if _, err := scriptRetry.run(ctx, j.q.c, j.ID,
		[]string{k.job(j.ID), k.events(), k.key(string(from)), k.wait(), k.meta(), k.active(), k.marker(),
			k.prioritized(), k.pc()},
		j.ID, boolArg(j.Opts.LIFO), field, string(from), boolArg(o.ResetAttemptsMade),
		boolArg(o.ResetAttemptsStarted)); err != nil {
		return j.q.stateError(ctx, "retry", j.ID, err, from)
	}
	j.FailedReason, j.FinishedOn, j.ProcessedOn, j.ReturnValue = "", 0, 0, nil
	if o.ResetAttemptsMade {
		j.AttemptsMade = 0
	}
	if o.ResetAttemptsStarted {
		j.AttemptsStarted = 0
	}
	return nil
}

var scriptRemove = newScript("remove")

// ErrJobLocked is Remove's refusal: a worker holds the job (or, removing
// children, one of its pending descendants); it cannot be removed now.
var ErrJobLocked = errors.New("queue: job is being processed (locked)")

// RemoveOptions tune Queue.RemoveWithOptions. A nil *RemoveOptions means
// the defaults (Node's).
type RemoveOptions struct {
	// KeepChildren leaves a flow parent's children in place (Node's
	// removeChildren: false). Defaults to false: the children (processed,
	// failed, pending), and theirs, are removed too.
	KeepChildren bool
}

// Remove deletes job id as Node's queue.remove(id) does (removeChildren
// true); see RemoveWithOptions.
func (q *Queue) Remove(ctx context.Context, id string) error {
	return q.RemoveWithOptions(ctx, id, nil)
}

// RemoveWithOptions deletes job id, its sub-keys (logs, flow bookkeeping)
// and the deduplication keys it owns (`de:<id>`, `dn:<id>`), as Node's
// queue.remove(id, {removeChildren}), emitting `removed` with prev = the
// state it left (`wait`, `delayed`, `prioritized`, `completed`, `failed`,
// `waiting-children`, `paused`…) for each job removed.
//
// Flows: a removed child leaves its parent's dependencies; when it was the
// last one and the parent is waiting for its children, the parent moves to
// its wait (`waiting` prev=`waiting-children`). A parent's children are
// removed first, recursively, across queues, unless opts.KeepChildren.
//
// It returns ErrJobLocked while a worker holds the job (or, removing
// children, one of its pending descendants) and nothing is removed,
// ErrSchedulerJob for the next iteration of a job scheduler (older
// iterations can be removed), ErrJobNotFound when there is nothing to
// remove.
func (q *Queue) RemoveWithOptions(ctx context.Context, id string, opts *RemoveOptions) error {
	if !mayBeJobID(id) {
		return codeError("remove", id, -1)
	}
	withChildren := opts == nil || !opts.KeepChildren
	res, err := scriptRemove.run(ctx, q.c, id, []string{q.k.meta()}, q.k.base, id, boolArg(withChildren))
	if err != nil {
		return err
	}
	switch n, _ := res.(int64); n {
	case 1:
		return nil
	case 0:
		return fmt.Errorf("queue: remove job %s: %w", id, ErrJobLocked)
	default:
		return fmt.Errorf("queue: remove job %s: unexpected reply %v", id, res)
	}
}

// Remove deletes the job and its flow children as Queue.Remove does.
func (j *Job) Remove(ctx context.Context) error {
	return j.RemoveWithOptions(ctx, nil)
}

// RemoveWithOptions deletes the job as Queue.RemoveWithOptions does.
func (j *Job) RemoveWithOptions(ctx context.Context, opts *RemoveOptions) error {
	if err := j.bound(); err != nil {
		return err
	}
	return j.q.RemoveWithOptions(ctx, j.ID, opts)
}

// GetState answers where the job is now, as Queue.GetState.
func (j *Job) GetState(ctx context.Context) (JobState, error) {
	if err := j.bound(); err != nil {
		return StateUnknown, err
	}
	return j.q.GetState(ctx, j.ID)
}

var scriptMoveJobsToWait = newScript("moveJobsToWait")

// moveJobsToWait runs moveJobsToWait until a batch is not full, as Node's
// retryJobs and promoteJobs loop.
func (q *Queue) moveJobsToWait(ctx context.Context, state JobState, count int, maxScore float64) error {
	if count <= 0 {
		count = 1000
	}
	k := q.k
	for range 1 << 20 { // bounded: each full batch moved count jobs out of the set
		res, err := scriptMoveJobsToWait.run(ctx, q.c, "", []string{k.base, k.events(), k.key(string(state)), k.wait(),
			k.paused(), k.meta(), k.active(), k.marker()}, count, maxScore, string(state))
		if err != nil {
			return err
		}
		if n, _ := res.(int64); n == 0 {
			return nil
		}
	}
	return fmt.Errorf("queue: moving %s jobs to wait did not finish", state)
}

// RetryJobs moves every job of state (StateFailed or StateCompleted) that
// finished at or before `before` (zero: now) back to the head of wait, count
// per script call (≤ 0: 1000), as Node's queue.retryJobs({state, count,
// timestamp}): finishedOn, processedOn and the failedReason (returnvalue)
// are cleared, attempts are not reset, priorities are ignored (BullMQ's
// behaviour), each job emits `waiting` with prev = state.
func (q *Queue) RetryJobs(ctx context.Context, state JobState, count int, before time.Time) error {
	if state != StateFailed && state != StateCompleted {
		return optErr("state", "RetryJobs takes failed or completed, not %.64q", string(state))
	}
	if before.IsZero() {
		before = q.opts.Now()
	}
	return q.moveJobsToWait(ctx, state, count, float64(before.UnixMilli()))
}

// PromoteJobs moves every delayed job to the head of wait, count per script
// call (≤ 0: 1000), as Node's queue.promoteJobs({count}): priorities are
// ignored and the `delay` field is kept (BullMQ's behaviour); each job emits
// `waiting` with prev "delayed".
func (q *Queue) PromoteJobs(ctx context.Context, count int) error {
	return q.moveJobsToWait(ctx, StateDelayed, count, math.MaxFloat64)
}

// GetChildrenValues returns the results of the job's processed flow
// children, keyed by each child's full job key ("bull:q:7"), as Node's
// job.getChildrenValues(): the `<job>:processed` hash with each value read
// as JSON. A value that is not JSON is returned as a JSON string of its
// text (Node would throw). A job without processed children gives an empty
// map.
func (j *Job) GetChildrenValues(ctx context.Context) (map[string]json.RawMessage, error) {
	if err := j.bound(); err != nil {
		return nil, err
	}
	h, err := j.q.c.HGetAll(ctx, j.q.k.job(j.ID)+":processed").Result()
	if err != nil {
		return nil, fmt.Errorf("queue: children values of job %s: %w", j.ID, err)
	}
	out := make(map[string]json.RawMessage, len(h))
	for k, v := range h {
		if json.Valid([]byte(v)) {
			out[k] = json.RawMessage(v)
		} else {
			b, _ := json.Marshal(v)
			out[k] = b
		}
	}
	return out, nil
}

// GetIgnoredChildrenFailures returns the failed reasons of flow children
// whose failure was ignored (ignoreDependencyOnFailure), keyed by child
// key, as Node's job.getIgnoredChildrenFailures(): the `<job>:failed` hash.
func (j *Job) GetIgnoredChildrenFailures(ctx context.Context) (map[string]string, error) {
	if err := j.bound(); err != nil {
		return nil, err
	}
	h, err := j.q.c.HGetAll(ctx, j.q.k.job(j.ID)+":failed").Result()
	if err != nil {
		return nil, fmt.Errorf("queue: ignored failures of job %s: %w", j.ID, err)
	}
	return h, nil
}
