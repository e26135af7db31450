package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// maxPage bounds one page of `queue jobs` and `queue logs`.
const maxPage = 1000

// listStates are the states `queue jobs` lists, and the order each is
// listed in: the order jobs will run (ascending) or newest first.
var listStates = map[queue.JobState]bool{
	queue.StateWaiting: true, queue.StatePrioritized: true, queue.StateDelayed: true, queue.StateWaitingChildren: true,
	queue.StateActive: false, queue.StateCompleted: false, queue.StateFailed: false,
}

// parseListState accepts a state name ("wait" is an alias of "waiting").
func parseListState(s string) (queue.JobState, error) {
	if s == "wait" {
		return queue.StateWaiting, nil
	}
	if _, ok := listStates[queue.JobState(s)]; !ok {
		return "", usageErr("jobs: unknown state %q (one of waiting, prioritized, delayed, active, waiting-children, completed, failed)", truncateArg(s))
	}
	return queue.JobState(s), nil
}

// checkPage checks --limit and --offset.
func checkPage(op string, f *queueFlags) error {
	if f.limit < 1 || f.limit > maxPage || f.offset < 0 {
		return usageErr("%s: --limit must be between 1 and %d and --offset at least 0", op, maxPage)
	}
	return nil
}

// listedJob is one job of `queue jobs --json`.
type listedJob struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Data         json.RawMessage `json:"data"`
	CreatedAt    time.Time       `json:"created_at"`
	AttemptsMade int             `json:"attempts_made"`
	Priority     int             `json:"priority,omitempty"`
	DelayMS      int64           `json:"delay_ms,omitempty"`
	ProcessedBy  string          `json:"processed_by,omitempty"`
	FailedReason string          `json:"failed_reason,omitempty"`
	Result       json.RawMessage `json:"result,omitempty"`
}

// jobPage is `queue jobs --json`.
type jobPage struct {
	Queue  string         `json:"queue"`
	State  queue.JobState `json:"state"`
	Total  int64          `json:"total"`
	Offset int            `json:"offset"`
	Limit  int            `json:"limit"`
	Jobs   []listedJob    `json:"jobs"`
}

func (q *queueEnv) jobs(ctx context.Context, f *queueFlags, pos []string) error {
	name := pos[0]
	state, err := parseListState(pos[1])
	if err != nil {
		return err
	}
	if err := checkPage("jobs", f); err != nil {
		return err
	}
	qq, closeFn, err := q.open(ctx, "jobs", name)
	if err != nil {
		return err
	}
	defer closeFn()
	counts, err := qq.GetJobCounts(ctx, state)
	if err != nil {
		return q.fail("jobs", name, "", err)
	}
	js, err := qq.GetJobs(ctx, []queue.JobState{state}, int64(f.offset), int64(f.offset+f.limit-1), listStates[state])
	var mal *queue.MalformedJobError
	if err != nil && !errors.As(err, &mal) {
		return q.fail("jobs", name, "", err)
	}
	page := jobPage{Queue: name, State: state, Total: counts[state], Offset: f.offset, Limit: f.limit, Jobs: make([]listedJob, len(js))}
	for i, j := range js {
		page.Jobs[i] = listedJob{ID: j.ID, Name: j.Name, Data: j.Data, CreatedAt: time.UnixMilli(j.Timestamp).UTC(), AttemptsMade: j.AttemptsMade,
			Priority: j.Priority, DelayMS: j.Delay, ProcessedBy: j.ProcessedBy, FailedReason: j.FailedReason, Result: j.ReturnValue}
	}
	if f.json {
		return writeJSON(q.e.stdout, page)
	}
	tw := tabwriter.NewWriter(q.e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED\tATTEMPTS\tFAILED REASON")
	// Ids, names and reasons come from Redis, written by any producer:
	// control characters and bidi overrides are printed escaped.
	for _, j := range page.Jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", termSafe(j.ID), termSafe(j.Name), j.CreatedAt.Format(time.RFC3339), j.AttemptsMade,
			termSafe(truncateRunes(strings.ReplaceAll(j.FailedReason, "\n", " "), 40)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case len(js) == 0 && page.Total == 0:
		fmt.Fprintf(q.e.stderr, "no %s jobs in %s\n", state, termSafe(name))
	case len(js) == 0:
		fmt.Fprintf(q.e.stderr, "no %s jobs from offset %d (%d in all)\n", state, f.offset, page.Total)
	default:
		fmt.Fprintf(q.e.stderr, "%s jobs %d-%d of %d", state, f.offset+1, f.offset+len(js), page.Total)
		if int64(f.offset+len(js)) < page.Total {
			fmt.Fprintf(q.e.stderr, " (next page: --offset %d)", f.offset+f.limit)
		}
		fmt.Fprintln(q.e.stderr)
	}
	return nil
}

// bulkState is the state `retry --all` and `promote --all` move jobs out of.
func bulkState(op string, f *queueFlags, pos []string) (queue.JobState, error) {
	if !f.all {
		if len(pos) != 2 {
			return "", usageErr("%s: give a job id, or --all", op)
		}
		return "", nil
	}
	if op == "promote" {
		if len(pos) != 1 {
			return "", usageErr("promote: --all takes no job id")
		}
		return queue.StateDelayed, nil
	}
	if f.reset {
		return "", usageErr("retry: --reset-attempts works on one job, not with --all (BullMQ's retryJobs keeps the attempts)")
	}
	if len(pos) == 1 {
		return queue.StateFailed, nil
	}
	switch s := queue.JobState(pos[1]); s {
	case queue.StateFailed, queue.StateCompleted:
		return s, nil
	}
	return "", usageErr("retry: --all takes failed or completed, not %q", truncateArg(pos[1]))
}

func (q *queueEnv) retry(ctx context.Context, f *queueFlags, pos []string) error {
	return q.moveJobs(ctx, "retry", f, pos)
}

func (q *queueEnv) promote(ctx context.Context, f *queueFlags, pos []string) error {
	return q.moveJobs(ctx, "promote", f, pos)
}

// moveJobs runs retry or promote, of one job or of every job of a state.
func (q *queueEnv) moveJobs(ctx context.Context, op string, f *queueFlags, pos []string) error {
	state, err := bulkState(op, f, pos)
	if err != nil {
		return err
	}
	name := pos[0]
	qq, closeFn, err := q.open(ctx, op, name)
	if err != nil {
		return err
	}
	defer closeFn()
	if state != "" {
		return q.moveAll(ctx, op, qq, state)
	}
	id := pos[1]
	j, err := qq.GetJob(ctx, id)
	var mal *queue.MalformedJobError
	if err != nil && !errors.As(err, &mal) {
		return q.fail(op, name, id, err)
	}
	if op == "promote" {
		err = j.Promote(ctx)
	} else {
		err = q.retryOne(ctx, qq, j, f.reset)
	}
	if err != nil {
		return q.fail(op, name, id, err)
	}
	past := map[string]string{"promote": "promoted", "retry": "moved back to wait"}[op]
	fmt.Fprintf(q.e.stdout, "%s/%s %s\n", termSafe(name), termSafe(id), past)
	return nil
}

// retryOne retries j from the finished state it is in.
func (q *queueEnv) retryOne(ctx context.Context, qq *queue.Queue, j *queue.Job, reset bool) error {
	st, err := qq.GetState(ctx, j.ID)
	if err != nil {
		return err
	}
	switch st {
	case queue.StateFailed, queue.StateCompleted:
		return j.Retry(ctx, st, &queue.RetryOptions{ResetAttemptsMade: reset, ResetAttemptsStarted: reset})
	case queue.StateUnknown:
		return queue.ErrJobNotFound
	}
	return &queue.StateError{Op: "retry", JobID: j.ID, Want: []queue.JobState{queue.StateFailed, queue.StateCompleted}, Found: st}
}

// moveAll retries (promotes) every job of state, as Node's retryJobs
// (promoteJobs).
func (q *queueEnv) moveAll(ctx context.Context, op string, qq *queue.Queue, state queue.JobState) error {
	counts, err := qq.GetJobCounts(ctx, state)
	if err != nil {
		return q.fail(op, qq.Name(), "", err)
	}
	if op == "promote" {
		err = qq.PromoteJobs(ctx, 0)
	} else {
		err = qq.RetryJobs(ctx, state, 0, time.Time{})
	}
	if err != nil {
		return q.fail(op, qq.Name(), "", err)
	}
	fmt.Fprintf(q.e.stdout, "%s: %d %s job(s) moved to wait\n", termSafe(qq.Name()), counts[state], state)
	return nil
}

func (q *queueEnv) remove(ctx context.Context, f *queueFlags, pos []string) error {
	name, id := pos[0], pos[1]
	qq, closeFn, err := q.open(ctx, "remove", name)
	if err != nil {
		return err
	}
	defer closeFn()
	if err := qq.Remove(ctx, id); err != nil {
		return q.fail("remove", name, id, err)
	}
	fmt.Fprintf(q.e.stdout, "%s/%s removed\n", termSafe(name), termSafe(id))
	return nil
}
