package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/queue"
)

// Admin errors.
var (
	// ErrJobLocked: a worker holds the job; it cannot be removed now.
	ErrJobLocked = queue.ErrJobLocked
	// ErrFlowJob: the job is part of a flow (parent or child); Remove does
	// not handle flows.
	ErrFlowJob = queue.ErrFlowJob
	// ErrSchedulerIteration: the job is the current (next) iteration of a
	// job scheduler; remove the scheduler instead.
	ErrSchedulerIteration = errors.New("jobs: job is the next iteration of a job scheduler (remove the scheduler instead)")
)

// ListStates are the states List accepts.
var ListStates = []queue.JobState{queue.StateWaiting, queue.StatePrioritized, queue.StateDelayed, queue.StateActive,
	queue.StateWaitingChildren, queue.StateCompleted, queue.StateFailed}

// MaxList bounds one List call.
const MaxList = 1000

// Admin runs admin operations on any queue under a prefix, reading and
// writing BullMQ's key layout: list jobs by state, retry a finished job,
// promote a delayed one, remove one. It does not own the client.
type Admin struct {
	c      redis.UniversalClient
	prefix string
}

// NewAdmin returns an Admin for prefix ("" means "bull").
func NewAdmin(c redis.UniversalClient, prefix string) (*Admin, error) {
	if c == nil {
		return nil, ErrRedisNotConfigured
	}
	if prefix == "" {
		prefix = queue.DefaultPrefix
	}
	return &Admin{c: c, prefix: prefix}, nil
}

// ParseState accepts a state name as List takes it ("wait" is an alias of
// "waiting").
func ParseState(s string) (queue.JobState, error) {
	if s == "wait" {
		return queue.StateWaiting, nil
	}
	st := queue.JobState(s)
	if !slices.Contains(ListStates, st) {
		return "", fmt.Errorf("unknown state %q (one of waiting, prioritized, delayed, active, waiting-children, completed, failed)", truncate(s, 40))
	}
	return st, nil
}

// List returns up to count jobs of queueName in state, from offset start,
// in the order they will be processed (waiting, prioritized, delayed),
// newest first (completed, failed, active), or by entry time
// (waiting-children), read with queue.GetJobs. Ids without a hash are
// skipped (the page is filled from further on when it can); malformed
// jobs are listed with what could be read.
func (a *Admin) List(ctx context.Context, queueName string, state queue.JobState, start, count int) ([]*queue.Job, error) {
	if start < 0 || count < 1 || count > MaxList {
		return nil, fmt.Errorf("jobs: list: start must be ≥ 0 and count between 1 and %d", MaxList)
	}
	q, err := queue.NewQueue(a.c, queueName, &queue.QueueOptions{Prefix: a.prefix})
	if err != nil {
		return nil, err
	}
	var asc bool
	switch state {
	case queue.StateWaiting, queue.StatePrioritized, queue.StateDelayed, queue.StateWaitingChildren:
		asc = true
	case queue.StateActive, queue.StateCompleted, queue.StateFailed:
	default:
		return nil, fmt.Errorf("jobs: list: unknown state %q", state)
	}
	out, err := q.GetJobs(ctx, []queue.JobState{state}, int64(start), int64(start+count-1), asc)
	var mal *queue.MalformedJobError
	if err != nil && !errors.As(err, &mal) {
		return nil, fmt.Errorf("jobs: list %s %s: %w", queueName, state, err)
	}
	if out == nil {
		out = []*queue.Job{}
	}
	return out, nil
}

func (a *Admin) check(queueName, id string) error {
	if _, err := queue.NewQueue(a.c, queueName, &queue.QueueOptions{Prefix: a.prefix}); err != nil {
		return err
	}
	if id == "" || len(id) > 1024 {
		return errors.New("jobs: job id must be 1 to 1024 bytes")
	}
	return nil
}

// job reads job id of queueName, bound to the queue for queue's job
// methods.
func (a *Admin) job(ctx context.Context, queueName, id string) (*queue.Job, error) {
	if err := a.check(queueName, id); err != nil {
		return nil, err
	}
	q, err := queue.NewQueue(a.c, queueName, &queue.QueueOptions{Prefix: a.prefix})
	if err != nil {
		return nil, err
	}
	j, err := q.GetJob(ctx, id)
	var mal *queue.MalformedJobError
	if err != nil && !errors.As(err, &mal) {
		return nil, fmt.Errorf("jobs: %s/%s: %w", queueName, id, err)
	}
	return j, nil
}

// Promote moves a delayed job to wait (or prioritized) now with
// queue's Job.Promote. Errors wrap queue.ErrNotInState when the job is not
// delayed, queue.ErrJobNotFound when it does not exist.
func (a *Admin) Promote(ctx context.Context, queueName, id string) error {
	j, err := a.job(ctx, queueName, id)
	if err != nil {
		return err
	}
	return j.Promote(ctx)
}

// Retry moves a failed (or completed) job back to wait with queue's
// Job.Retry, as Node's job.retry(state) does (a flow child goes back among
// its parent's dependencies); resetAttempts clears attemptsMade and
// attemptsStarted so the job gets its full attempts again.
func (a *Admin) Retry(ctx context.Context, queueName, id string, from queue.JobState, resetAttempts bool) error {
	if from != queue.StateFailed && from != queue.StateCompleted {
		return fmt.Errorf("jobs: retry: only failed or completed jobs can be retried (got %q)", from)
	}
	j, err := a.job(ctx, queueName, id)
	if err != nil {
		return err
	}
	return j.Retry(ctx, from, &queue.RetryOptions{ResetAttemptsMade: resetAttempts, ResetAttemptsStarted: resetAttempts})
}

// Remove deletes a job, its sub-keys and the deduplication keys it owns
// (`de:<id>` and `dn:<id>`), as Node's job.remove() does, unless it is
// the current iteration of a job scheduler (ErrSchedulerIteration; older
// iterations can be removed), a worker holds it (ErrJobLocked) or it is
// part of a flow (ErrFlowJob). Emits `removed` with prev = the state it
// left (`wait`, `delayed`, `completed`…).
func (a *Admin) Remove(ctx context.Context, queueName, id string) error {
	if err := a.check(queueName, id); err != nil {
		return err
	}
	q, err := queue.NewQueue(a.c, queueName, &queue.QueueOptions{Prefix: a.prefix})
	if err != nil {
		return err
	}
	err = q.Remove(ctx, id)
	if errors.Is(err, queue.ErrSchedulerJob) {
		return fmt.Errorf("jobs: remove %s/%s: %w", queueName, id, ErrSchedulerIteration)
	}
	return err
}
