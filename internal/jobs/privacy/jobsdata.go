package privacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/queue"
)

// RedisJobs finds the jobs of the five queues whose data or return value
// names a user, through package queue's getters (never by key).
//
// A job names the user when a JSON object anywhere in its data or return
// value has a field from UserFields whose value is the user id exactly
// (analytics events' "user_id" included); free text that merely contains
// the id does not count.
//
// The scan is bounded: each queue is read MaxJobs jobs at most per state
// group, PageSize at a time. Jobs beyond the bound are not seen (say so
// in the request's answer when a queue retains more: the defaults keep
// 1000 completed and 5000 failed jobs, under the bound).
type RedisJobs struct {
	Client redis.UniversalClient
	// Prefix of the queues' keys. Defaults to "bull".
	Prefix string
	// Queues to search. Defaults to jobs.Names().
	Queues []string
	// UserFields are the JSON fields holding a user id. Defaults to
	// user_id, userId, owner_id.
	UserFields []string
	// PageSize is how many jobs GetJobs reads at once (default 200);
	// MaxJobs bounds the jobs read per queue (default 20000).
	PageSize, MaxJobs int
}

// JobData is one job in an access export.
type JobData struct {
	Queue       string          `json:"queue"`
	ID          string          `json:"id"`
	State       string          `json:"state"`
	Name        string          `json:"name"`
	Data        json.RawMessage `json:"data"`
	ReturnValue json.RawMessage `json:"return_value,omitempty"`
}

// searchedStates are the states read; active jobs are listed (they name
// the user) but never removed: a worker holds them.
var searchedStates = []queue.JobState{queue.StateWaiting, queue.StateDelayed, queue.StatePrioritized, queue.StatePaused,
	queue.StateCompleted, queue.StateFailed, queue.StateWaitingChildren, queue.StateActive}

type foundJob struct {
	JobData
	job *queue.Job
}

func (r *RedisJobs) fields() map[string]bool {
	fs := r.UserFields
	if len(fs) == 0 {
		fs = []string{"user_id", "userId", "owner_id"}
	}
	m := make(map[string]bool, len(fs))
	for _, f := range fs {
		m[f] = true
	}
	return m
}

// names reports whether the JSON document has a field of fields equal to
// userID, at any depth.
func names(raw json.RawMessage, fields map[string]bool, userID string) bool {
	if len(raw) == 0 {
		return false
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && fields[k] && s == userID {
					return true
				}
				if walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

// find lists the user's jobs, skipping the privacy-audit job of request
// selfRequest (the one running).
func (r *RedisJobs) find(ctx context.Context, userID, selfRequest string) ([]foundJob, error) {
	qs := r.Queues
	if len(qs) == 0 {
		qs = jobs.Names()
	}
	page, max := r.PageSize, r.MaxJobs
	if page <= 0 {
		page = 200
	}
	if max <= 0 {
		max = 20000
	}
	fields := r.fields()
	var out []foundJob
	for _, name := range qs {
		q, err := queue.NewQueue(r.Client, name, &queue.QueueOptions{Prefix: r.Prefix})
		if err != nil {
			return nil, err
		}
		for _, st := range searchedStates {
			for start := 0; start < max; start += page {
				end := start + page - 1
				if end >= max {
					end = max - 1
				}
				list, err := q.GetJobs(ctx, []queue.JobState{st}, int64(start), int64(end), true)
				var bad *queue.MalformedJobError
				if err != nil && !errors.As(err, &bad) {
					return nil, fmt.Errorf("privacy-audit: reading queue %s: %w", name, err)
				}
				for _, j := range list {
					if !names(j.Data, fields, userID) && !names(j.ReturnValue, fields, userID) {
						continue
					}
					if name == jobs.PrivacyAudit && selfRequest != "" {
						var p struct {
							RequestID string `json:"request_id"`
						}
						if json.Unmarshal(j.Data, &p) == nil && p.RequestID == selfRequest && (st == queue.StateActive || st == queue.StateWaiting) {
							continue // the request being answered
						}
					}
					out = append(out, foundJob{JobData{Queue: name, ID: j.ID, State: string(st), Name: j.Name, Data: j.Data, ReturnValue: j.ReturnValue}, j})
				}
				if len(list) < end-start+1 {
					break
				}
			}
		}
	}
	return out, nil
}

// Find returns the user's jobs for an access export.
func (r *RedisJobs) Find(ctx context.Context, userID, selfRequest string) ([]JobData, error) {
	found, err := r.find(ctx, userID, selfRequest)
	if err != nil {
		return nil, err
	}
	out := make([]JobData, 0, len(found))
	for _, f := range found {
		out = append(out, f.JobData)
	}
	return out, nil
}

// Erase removes the user's jobs that are not running: waiting, delayed,
// prioritized (they would otherwise run and recreate data) and the
// retained completed and failed ones (removed rather than rewritten: the
// queue protocol has no way to rewrite a return value, failure reason,
// stack trace or job log, and a retained job is operational history
// only), then deletes those jobs' entries of the queues' events streams.
// Active jobs (held by a worker) and flow jobs are left and counted: the
// request should be run again once they finish. Running it twice removes
// nothing more.
func (r *RedisJobs) Erase(ctx context.Context, userID, selfRequest string) (removed, events, left int64, err error) {
	found, err := r.find(ctx, userID, selfRequest)
	if err != nil {
		return 0, 0, 0, err
	}
	// Events first: a failure after them leaves the jobs, found again by
	// the retry, rather than events nobody would look for.
	byQueue := map[string][]string{}
	for _, f := range found {
		if f.State != string(queue.StateActive) {
			byQueue[f.Queue] = append(byQueue[f.Queue], f.ID)
		}
	}
	for name, ids := range byQueue {
		q, err := queue.NewQueue(r.Client, name, &queue.QueueOptions{Prefix: r.Prefix})
		if err != nil {
			return removed, events, left, err
		}
		n, err := q.RemoveJobEvents(ctx, ids, 0)
		events += n
		if err != nil {
			return removed, events, left, fmt.Errorf("privacy-audit: %w", err)
		}
	}
	for _, f := range found {
		if f.State == string(queue.StateActive) {
			left++
			continue
		}
		switch err := f.job.Remove(ctx); {
		case err == nil:
			removed++
		case errors.Is(err, queue.ErrJobNotFound):
		case errors.Is(err, queue.ErrJobLocked), errors.Is(err, queue.ErrSchedulerJob):
			left++
		default:
			return removed, events, left, fmt.Errorf("privacy-audit: removing job %s of %s: %w", f.ID, f.Queue, err)
		}
	}
	return removed, events, left, nil
}
