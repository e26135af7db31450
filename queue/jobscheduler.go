package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Job schedulers (protocol §9.19) from the producer side: create, replace,
// read and remove them as Node's Queue.upsertJobScheduler and friends do.
// Workers (Node or Go) then create each next iteration as they start the
// current one (see scheduler.go).

// ErrSchedulerNotFound: no job scheduler has that id.
var ErrSchedulerNotFound = errors.New("queue: job scheduler not found")

// RepeatOptions say when a job scheduler runs: every Every, or on the cron
// Pattern. Field names follow BullMQ's RepeatOptions.
type RepeatOptions struct {
	// Every runs an iteration each Every (whole milliseconds). Exclusive
	// with Pattern.
	Every time.Duration
	// Pattern is a cron expression (with seconds, as BullMQ's cron-parser:
	// "*/2 * * * * *", or the usual five fields). Exclusive with Every.
	Pattern string
	// TZ is the IANA time zone of Pattern; "" means the local zone.
	TZ string
	// Limit stops the scheduler after that many iterations; 0 = no limit.
	Limit int
	// StartDate: no iteration before it. Zero = none.
	StartDate time.Time
	// EndDate: no iteration after it; must be in the future. Zero = none.
	EndDate time.Time
	// Immediately runs the first iteration of a Pattern scheduler now
	// (an Every scheduler always starts now, or at StartDate). Not with
	// StartDate.
	Immediately bool
	// Offset shifts Every's slots (whole milliseconds); Every only.
	Offset time.Duration
}

// JobTemplate is what each iteration is made of. A nil template, or empty
// fields, mean: name = the scheduler id, data = {}, default options.
type JobTemplate struct {
	Name string
	Data any
	// Opts of every iteration. JobID, Delay, Timestamp and Deduplication
	// are the scheduler's to decide and must be unset.
	Opts *AddOptions
}

// JobScheduler is a stored scheduler as Node's getJobScheduler reports it.
// Times are epoch milliseconds; zero when unset.
type JobScheduler struct {
	ID             string
	Name           string
	Next           int64 // millis of the pending iteration
	IterationCount int64
	Limit          int64
	StartDate      int64
	EndDate        int64
	TZ             string
	Pattern        string
	Every          int64
	Offset         int64
	// TemplateData is the template's data JSON (nil when {}).
	TemplateData json.RawMessage
	// TemplateOpts are the template's options (nil when none).
	TemplateOpts *JobOptions
}

var (
	scriptUpsertScheduler = newScript("upsertJobScheduler")
	scriptRemoveScheduler = newScript("removeJobScheduler")
)

// UpsertJobScheduler creates the scheduler id, or replaces its definition
// and its pending iteration (if that has not started yet), and stores the
// next iteration, job "repeat:<id>:<millis>", delayed until it is due.
// It returns that iteration. When the schedule has no run left (Limit 0 is
// "no limit"; a pattern with no time before EndDate), nothing is written
// and the job is nil, as in Node. Node and Go workers run the iterations and
// create each next one.
func (q *Queue) UpsertJobScheduler(ctx context.Context, id string, repeat RepeatOptions, template *JobTemplate) (*Job, error) {
	now := q.opts.Now().UnixMilli()
	u, err := q.prepareScheduler(id, repeat, template, now)
	if err != nil || u == nil {
		return nil, err
	}
	res, err := scriptUpsertScheduler.run(ctx, q.c, id, []string{q.k.meta()}, u.args...)
	if err != nil {
		return nil, err
	}
	arr, ok := res.([]any)
	if !ok || len(arr) != 2 {
		return nil, fmt.Errorf("queue: upsertJobScheduler: unexpected reply %T", res)
	}
	j := u.job
	j.ID, _ = arr[0].(string)
	j.Delay, _ = arr[1].(int64)
	j.Opts.JobID, j.Opts.Delay = j.ID, j.Delay
	if j.RawOpts, err = j.Opts.MarshalJSON(); err != nil {
		return nil, err
	}
	return j, nil
}

type schedulerUpsert struct {
	job  *Job
	args []any
}

// prepareScheduler validates an upsert as Node does and lays out the
// script's arguments; nil when no iteration is left to run.
func (q *Queue) prepareScheduler(id string, r RepeatOptions, t *JobTemplate, now int64) (*schedulerUpsert, error) {
	if id == "" || len(id) > 1024 {
		return nil, optErr("id", "the scheduler id must be 1 to 1024 bytes")
	}
	every, offset := r.Every.Milliseconds(), r.Offset.Milliseconds()
	switch {
	case every > 0 && r.Pattern != "":
		return nil, optErr("Every", "Every and Pattern cannot both be set")
	case every <= 0 && r.Pattern == "":
		return nil, optErr("Every", "one of Every (at least 1ms) and Pattern must be set")
	case r.Every%time.Millisecond != 0 || r.Offset%time.Millisecond != 0:
		return nil, optErr("Every", "Every and Offset must be whole milliseconds")
	case r.Immediately && !r.StartDate.IsZero():
		return nil, optErr("Immediately", "Immediately and StartDate cannot both be set")
	case offset < 0 || (offset > 0 && every == 0):
		return nil, optErr("Offset", "must be ≥ 0 and is for Every only")
	case r.Limit < 0:
		return nil, optErr("Limit", "must not be negative")
	case !r.EndDate.IsZero() && r.EndDate.UnixMilli() < now:
		return nil, optErr("EndDate", "must be in the future (got %s)", r.EndDate.Format(time.RFC3339))
	}
	if t == nil {
		t = &JobTemplate{}
	}
	name := t.Name
	if name == "" {
		name = id
	}
	if len(name) > 1024 {
		return nil, optErr("Template.Name", "longer than 1024 bytes")
	}
	if o := t.Opts; o != nil && (o.JobID != "" || o.Delay != 0 || !o.Timestamp.IsZero() || o.Deduplication != nil) {
		return nil, optErr("Template.Opts", "JobID, Delay, Timestamp and Deduplication are set by the scheduler and must be unset")
	}
	jo, _, err := t.Opts.toJobOptions(time.UnixMilli(now))
	if err != nil {
		return nil, err
	}
	dataJSON, err := encodeData(t.Data, q.opts.MaxDataSize)
	if err != nil {
		return nil, err
	}
	var startMs, endMs int64
	if !r.StartDate.IsZero() {
		startMs = r.StartDate.UnixMilli()
	}
	endBound := int64(math.MaxInt64)
	if !r.EndDate.IsZero() {
		endMs = r.EndDate.UnixMilli()
		endBound = endMs
	}
	var cronNext int64
	if r.Pattern != "" {
		n, ok, err := cronNextMs(r.Pattern, r.TZ, max(now, startMs), endBound)
		if err != nil {
			return nil, optErr("Pattern", "%v", err)
		}
		if r.Immediately {
			n, ok = now, true
		}
		if !ok {
			return nil, nil // no run before EndDate: Node adds nothing either
		}
		cronNext = max(n, now)
	}

	// The template opts as the scheduler hash keeps them: only what was
	// set (no default attempts), "" when nothing was.
	tmplOpts, err := marshalTemplateOpts(jo)
	if err != nil {
		return nil, err
	}
	// The iteration's repeat and opts (jobId and delay come from Redis).
	rep := map[string]any{"count": 1}
	if every > 0 {
		rep["every"] = every
		if offset > 0 {
			rep["offset"] = offset
		}
	} else {
		rep["pattern"] = r.Pattern
	}
	if r.TZ != "" {
		rep["tz"] = r.TZ
	}
	if r.Limit > 0 {
		rep["limit"] = r.Limit
	}
	if startMs != 0 {
		rep["startDate"] = startMs
	}
	if endMs != 0 {
		rep["endDate"] = endMs
	}
	repJSON, err := marshalJSON(rep)
	if err != nil {
		return nil, err
	}
	it := jo
	it.Repeat = repJSON
	it.RepeatJobKey = id
	it.Timestamp = now
	it.PrevMillis = cronNext
	itJSON, err := marshalTemplateOpts(it)
	if err != nil {
		return nil, err
	}
	idPrefix, _ := marshalJSON("repeat:" + id + ":")
	idPrefix = idPrefix[:len(idPrefix)-1] // without the closing quote

	str := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	j := &Job{Name: name, Data: json.RawMessage(dataJSON), Opts: it, Timestamp: now, Priority: jo.Priority,
		RepeatJobKey: id, q: q}
	return &schedulerUpsert{job: j, args: []any{q.k.base, id, now, cronNext, every, offset, str(startMs), name,
		r.TZ, str(int64(r.Limit)), r.Pattern, str(endMs), tmplOpts, dataJSON, string(itJSON), string(idPrefix),
		jo.Priority, boolArg(jo.LIFO)}}, nil
}

// marshalTemplateOpts encodes opts without the `attempts` Queue.Add always
// writes (kept when set); "" for none, "{}" never.
func marshalTemplateOpts(o JobOptions) (string, error) {
	b, err := o.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("queue: encoding template options: %w", err)
	}
	if o.Attempts != 0 {
		return string(b), nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	delete(m, "attempts")
	if len(m) == 0 {
		return "", nil
	}
	b, err = marshalJSON(m)
	return string(b), err
}

// RemoveJobScheduler removes the scheduler id and its pending iteration if
// that is still delayed. It reports whether the scheduler existed.
func (q *Queue) RemoveJobScheduler(ctx context.Context, id string) (bool, error) {
	res, err := scriptRemoveScheduler.run(ctx, q.c, id, []string{q.k.meta()}, q.k.base, id)
	if err != nil {
		return false, err
	}
	n, _ := res.(int64)
	return n == 1, nil
}

// GetJobScheduler reads the scheduler id, or ErrSchedulerNotFound.
func (q *Queue) GetJobScheduler(ctx context.Context, id string) (*JobScheduler, error) {
	var score *redis.FloatCmd
	var h *redis.MapStringStringCmd
	_, err := q.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		score = p.ZScore(ctx, q.k.repeat(), id)
		h = p.HGetAll(ctx, q.k.repeat()+":"+id)
		return nil
	})
	if err == redis.Nil || (err == nil && len(h.Val()) == 0) {
		return nil, fmt.Errorf("%w: %.64q", ErrSchedulerNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("queue: get job scheduler %.64q: %w", id, err)
	}
	return schedulerFromHash(id, int64(score.Val()), h.Val())
}

// GetJobSchedulers lists the schedulers by next run, from start to end
// (inclusive ranks, -1 = the last), soonest first when asc. Ids whose hash
// is gone are skipped (Node also deletes them).
func (q *Queue) GetJobSchedulers(ctx context.Context, start, end int64, asc bool) ([]*JobScheduler, error) {
	rng := redis.ZRangeArgs{Key: q.k.repeat(), Start: start, Stop: end, Rev: !asc}
	zs, err := q.c.ZRangeArgsWithScores(ctx, rng).Result()
	if err != nil {
		return nil, fmt.Errorf("queue: get job schedulers: %w", err)
	}
	cmds, err := q.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, z := range zs {
			p.HGetAll(ctx, q.k.repeat()+":"+fmt.Sprint(z.Member))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue: get job schedulers: %w", err)
	}
	var out []*JobScheduler
	for i, z := range zs {
		h := cmds[i].(*redis.MapStringStringCmd).Val()
		if len(h) == 0 {
			continue
		}
		s, err := schedulerFromHash(fmt.Sprint(z.Member), int64(z.Score), h)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// GetJobSchedulersCount is the number of schedulers of the queue.
func (q *Queue) GetJobSchedulersCount(ctx context.Context) (int64, error) {
	n, err := q.c.ZCard(ctx, q.k.repeat()).Result()
	if err != nil {
		return 0, fmt.Errorf("queue: count job schedulers: %w", err)
	}
	return n, nil
}

func schedulerFromHash(id string, next int64, h map[string]string) (*JobScheduler, error) {
	num := func(f string) int64 {
		n, _ := strconv.ParseInt(h[f], 10, 64)
		return n
	}
	s := &JobScheduler{ID: id, Name: h["name"], Next: next, IterationCount: num("ic"), Limit: num("limit"),
		StartDate: num("startDate"), EndDate: num("endDate"), TZ: h["tz"], Pattern: h["pattern"], Every: num("every"),
		Offset: num("offset")}
	if d, ok := h["data"]; ok {
		s.TemplateData = json.RawMessage(d)
	}
	if o, ok := h["opts"]; ok {
		s.TemplateOpts = new(JobOptions)
		if err := s.TemplateOpts.UnmarshalJSON([]byte(o)); err != nil {
			return s, &MalformedJobError{ID: "repeat:" + id, Reason: err.Error()}
		}
	}
	return s, nil
}
