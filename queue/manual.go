package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Manual processing, as Node's worker.getNextJob(token) with
// job.moveToCompleted / job.moveToFailed / job.extendLock: the caller
// fetches a job under a lock token of its choosing, works on it, renews
// the lock itself when the work may outlast LockDuration, and finishes it.
// Use a Worker built with a nil Handler (and never Started).

// ErrNoHandler: Start was called on a worker built for manual processing.
var ErrNoHandler = errors.New("queue: worker has no handler (manual processing: use GetNextJob)")

// GetNextJob moves the next job to active under token and returns it, as
// Node's worker.getNextJob(token, {block: false}); nil (and no error) when
// no job is ready, the queue is paused or at its global concurrency, or a
// rate limit applies. It does not block: poll, or wait on QueueEvents
// `waiting`. The lock lasts the worker's LockDuration; renew it with
// Job.ExtendLock. The token must be unique per fetch (Node uses
// "<uuid>:<n>"), and not "0" (reserved: no lock). After Close: ErrClosed.
// Like a running worker,
// GetNextJob creates a job scheduler's next iteration before returning
// one of its iterations.
func (w *Worker) GetNextJob(ctx context.Context, token string) (*Job, error) {
	if token == "" || token == "0" {
		return nil, optErr("token", "must be a non-empty lock token other than \"0\"")
	}
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	r, err := w.moveToActive(ctx, token)
	if err != nil {
		return nil, err
	}
	if r.id == "" {
		return nil, nil
	}
	job, perr := jobFromHash(r.id, fieldsToMap(r.fields))
	job.q, job.token, job.w = w.q, token, w
	if perr == nil && job.RepeatJobKey != "" {
		w.advanceScheduler(job)
	}
	return job, perr
}

// manual returns the worker a job was fetched with by GetNextJob.
func (j *Job) manual() (*Worker, error) {
	if err := j.bound(); err != nil {
		return nil, err
	}
	if j.w == nil {
		return nil, errors.New("queue: manual processing needs a job fetched with Worker.GetNextJob")
	}
	return j.w, nil
}

// MoveToCompleted completes a job fetched with GetNextJob, as Node's
// job.moveToCompleted(value, token, false): the lock must still be token's
// (else ErrLockMissing / ErrLockMismatch), value is stored as the JSON
// returnvalue, retention (the job's removeOnComplete, else the worker's)
// and flow parents are handled and `completed` is emitted, as when a
// handler returns. No next job is fetched. A parent with pending or failed
// children is refused (ErrPendingChildren, ErrFailedChildren); fail it
// with MoveToFailed then, as the worker does.
func (j *Job) MoveToCompleted(ctx context.Context, value any, token string) error {
	w, err := j.manual()
	if err != nil {
		return err
	}
	rv, err := w.encodeResult(value)
	if err != nil {
		return err
	}
	now := w.now()
	if err := w.manualFinish(ctx, j, now, "c", j.ID, token, rv,
		keepArg(keepArgs(j.Opts.RemoveOnComplete, w.opts.RemoveOnComplete)), ""); err != nil {
		return err
	}
	j.ReturnValue, j.FinishedOn = json.RawMessage(rv), now
	j.AttemptsMade++
	return nil
}

// MoveToFailed records a failed attempt of a job fetched with GetNextJob,
// as Node's job.moveToFailed(err, token): with attempts left (and err not
// Unrecoverable, and MaxStartedAttempts allowing) the job is retried —
// after its backoff in delayed, else at once in wait — otherwise it moves
// to failed (retention, flow parent policies, `failed` and
// `retries-exhausted` events as when a handler fails). failedReason is
// err's text; the stack trace list gets an entry. The lock must still be
// token's.
func (j *Job) MoveToFailed(ctx context.Context, cause error, token string) error {
	w, err := j.manual()
	if err != nil {
		return err
	}
	if cause == nil {
		return optErr("err", "MoveToFailed needs the failure")
	}
	reason := cause.Error()
	st := stacktraceJSON(j, errorStack(cause, nil))
	retry, delay := w.retryDecision(j, cause)
	now := w.now()
	switch {
	case retry && delay > 0:
		err = w.manualFinish(ctx, j, now, "d", j.ID, token, delay, reason, st)
	case retry:
		err = w.manualFinish(ctx, j, now, "r", j.ID, token, boolArg(j.Opts.LIFO), reason, st)
	default:
		err = w.manualFinish(ctx, j, now, "f", j.ID, token, reason,
			keepArg(keepArgs(j.Opts.RemoveOnFail, w.opts.RemoveOnFail)), "", j.Opts.Attempts, st)
		if err == nil {
			j.FinishedOn = now
		}
	}
	if err != nil {
		return err
	}
	j.FailedReason = reason
	j.AttemptsMade++
	return nil
}

// ExtendLock renews the lock of a job being processed under token for d,
// as Node's job.extendLock(token, ms). It returns ErrLockMissing when the
// lock is gone or held by another token (the job may be running
// elsewhere: stop working on it).
func (j *Job) ExtendLock(ctx context.Context, token string, d time.Duration) error {
	if err := j.bound(); err != nil {
		return err
	}
	if d < time.Millisecond {
		return optErr("duration", "must be at least 1ms, got %s", d)
	}
	k := j.q.k
	res, err := scriptExtendLocks.run(ctx, j.q.c, j.ID, []string{k.stalled()}, k.base, d.Milliseconds(), j.ID, token)
	if err != nil {
		return err
	}
	if arr, _ := res.([]any); len(arr) > 0 {
		return fmt.Errorf("queue: extend lock of job %s: %w", j.ID, ErrLockMissing)
	}
	return nil
}

// manualFinish sends one moveToFinished record (see worker_batch.go) for a
// job processed by hand, alone and without fetching a next job (its
// next-token field, where the record has one, is empty), and returns the
// record's refusal as an error.
func (w *Worker) manualFinish(ctx context.Context, j *Job, now int64, rec ...any) error {
	res, err := scriptMoveToFinished.run(ctx, w.c, j.ID, w.wkeys, append(w.finishHeader(now, len(rec)), rec...)...)
	if err != nil {
		return err
	}
	replies, ok := res.([]any)
	if !ok || len(replies) != 1 {
		return errors.New("queue: moveToFinished: unexpected reply shape")
	}
	if code, ok := replies[0].(int64); ok && code < 0 {
		return codeError(scriptMoveToFinished.name, j.ID, code)
	}
	return nil
}
