package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
)

// Scheduler advance (protocol §9.19): when a worker starts an iteration of a
// job scheduler (a job with `rjk`), it creates the next iteration before it
// runs the handler. The client decides from the job's own opts whether the
// scheduler is done (repeat.limit, repeat.endDate) and, for cron patterns,
// when the next run is; advanceScheduler.lua does the rest atomically.

// advanceResult is the outcome of one advance, for logs and tests.
type advanceResult struct {
	code   int64  // see advanceScheduler.lua; -1 = decided client side
	nextID string // the next iteration's id (codes 1 and 2)
	skip   string // why the client did not ask Redis (code -1)
}

const (
	advLegacy     = 0
	advCreated    = 1
	advDuplicated = 2
	advGone       = 3
	advNotCurrent = 4
	advNoNext     = 5
	advSkipped    = -1
)

// errBadSchedulerJob wraps the reasons why the client cannot compute the
// next iteration from the job (never retried).
var errBadSchedulerJob = errors.New("cannot compute the next iteration")

// errNoRepeat: the iteration's opts carry neither repeat.every nor
// repeat.pattern, so the next time cannot be computed (Node fails there too).
var errNoRepeat = errors.New("opts.repeat has neither every nor pattern")

// advanceArgs builds the ARGV of advanceScheduler for job at now (ms), or
// says why no iteration follows (skip != "").
func advanceArgs(base string, job *Job, now int64) (args []any, skip string, err error) {
	sid := job.RepeatJobKey
	var rep map[string]json.RawMessage
	if len(job.Opts.Repeat) > 0 && string(job.Opts.Repeat) != "null" {
		if err := json.Unmarshal(job.Opts.Repeat, &rep); err != nil {
			return nil, "", fmt.Errorf("opts.repeat: %w", err)
		}
	}
	every := jsonNum(rep["every"])
	pattern := jsonStr(rep["pattern"])
	switch {
	case every > 0 && pattern != "":
		return nil, "", errors.New("opts.repeat has both every and pattern")
	case every <= 0 && pattern == "":
		return nil, "", errNoRepeat
	}
	iter := int64(1)
	if c := jsonNum(rep["count"]); c != 0 {
		iter = int64(c) + 1
	}
	if l, ok := rep["limit"]; ok && string(l) != "null" && float64(iter) > jsonNum(l) {
		return nil, "limit reached", nil
	}
	endMs, hasEnd, err := jsonDateMs(rep["endDate"])
	if err != nil {
		return nil, "", fmt.Errorf("opts.repeat.endDate: %w", err)
	}
	if hasEnd && now > endMs {
		return nil, "endDate passed", nil
	}
	startMs, hasStart, err := jsonDateMs(rep["startDate"])
	if err != nil {
		return nil, "", fmt.Errorf("opts.repeat.startDate: %w", err)
	}
	nowP := max(now, job.Opts.PrevMillis)

	var cronNext int64
	if pattern != "" {
		tz := jsonStr(rep["tz"])
		from := nowP
		if hasStart && startMs > from {
			from = startMs
		}
		var end int64 = math.MaxInt64
		if hasEnd {
			end = endMs
		}
		n, ok, err := cronNextMs(pattern, tz, from, end)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			return nil, "no next time for the pattern", nil
		}
		cronNext = max(n, nowP)
	}

	// The next iteration's repeat: the job's, with count + 1, dates as
	// epoch ms, the offset only for every, and no `immediately`.
	newRep := make(map[string]any, len(rep)+1)
	for k, v := range rep {
		newRep[k] = v
	}
	delete(newRep, "immediately")
	newRep["count"] = iter
	delete(newRep, "startDate")
	delete(newRep, "endDate")
	if hasStart {
		newRep["startDate"] = startMs
	}
	if hasEnd {
		newRep["endDate"] = endMs
	}
	offset := jsonNum(rep["offset"])
	if every <= 0 || offset == 0 {
		delete(newRep, "offset")
	}

	opts := map[string]any{}
	if len(job.RawOpts) > 0 {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(job.RawOpts, &raw); err != nil {
			return nil, "", fmt.Errorf("opts: %w", err)
		}
		for k, v := range raw {
			opts[k] = v
		}
	}
	delete(opts, "jobId")
	delete(opts, "delay")
	opts["timestamp"] = now
	opts["repeatJobKey"] = sid
	opts["repeat"] = newRep
	if pattern != "" {
		opts["prevMillis"] = cronNext
	} else {
		delete(opts, "prevMillis")
	}
	optsJSON, err := marshalJSON(opts)
	if err != nil {
		return nil, "", fmt.Errorf("encoding opts: %w", err)
	}
	idPrefix, _ := marshalJSON("repeat:" + sid + ":")
	idPrefix = idPrefix[:len(idPrefix)-1] // without the closing quote
	deid := ""
	if job.Opts.Deduplication != nil {
		deid = job.Opts.Deduplication.ID
	}
	everyArg := int64(0)
	if every > 0 {
		everyArg = int64(every)
	}
	return []any{base, sid, job.ID, now, cronNext, string(optsJSON), string(idPrefix),
		boolArg(hasLegacyRepeatKeyShape(sid)), everyArg, int64(offset), job.Opts.Priority,
		boolArg(job.Opts.LIFO), deid, job.Name}, "", nil
}

// runAdvance runs the advance for job once.
func (w *Worker) runAdvance(job *Job) (advanceResult, error) {
	args, skip, err := advanceArgs(w.k.base, job, w.now())
	if err != nil {
		return advanceResult{}, fmt.Errorf("%w: %w", errBadSchedulerJob, err)
	}
	if skip != "" {
		return advanceResult{code: advSkipped, skip: skip}, nil
	}
	res, err := scriptAdvanceSched.run(w.runCtx, w.c, job.ID, w.wkeys, args...)
	if err != nil {
		return advanceResult{}, err
	}
	arr, ok := res.([]any)
	if !ok || len(arr) != 2 {
		return advanceResult{}, fmt.Errorf("queue: advanceScheduler: unexpected reply %T", res)
	}
	code, _ := arr[0].(int64)
	id, _ := arr[1].(string)
	return advanceResult{code: code, nextID: id}, nil
}

// advanceScheduler creates the next iteration of job's scheduler before
// the handler runs. Redis errors are retried a few times with backoff
// (while the worker is not closing); then the job is processed anyway and
// the failure is logged: the scheduler stops until an iteration is started
// again. (Node retries for ever and leaves the job active meanwhile.)
func (w *Worker) advanceScheduler(job *Job) {
	bo := retryBackoff{min: 100 * time.Millisecond, max: 2 * time.Second}
	for attempt := 1; ; attempt++ {
		r, err := w.runAdvance(job)
		if err == nil {
			switch r.code {
			case advCreated:
				w.log.Debug("[Queue] scheduler advanced", slog.String("scheduler", job.RepeatJobKey),
					slog.String("next", r.nextID))
			case advLegacy:
				w.log.Error("[Queue] legacy repeatable job metadata is not supported (BullMQ v6); processing the job without a next iteration",
					slog.String("job", job.ID), slog.String("repeatJobKey", job.RepeatJobKey))
			case advSkipped:
				w.log.Debug("[Queue] scheduler ends", slog.String("scheduler", job.RepeatJobKey), slog.String("reason", r.skip))
			}
			return
		}
		var rerr error
		if isRedisFailure(err) && attempt < 4 && w.sleep(bo.next()) {
			continue
		} else {
			rerr = fmt.Errorf("queue: could not create the next iteration of scheduler %q: %w", job.RepeatJobKey, err)
		}
		w.log.Error("[Queue] could not create the next iteration of a job scheduler", slog.String("scheduler", job.RepeatJobKey),
			slog.String("job", job.ID), slog.String("error", err.Error()))
		w.emitEvent(WorkerEvent{Type: EventError, JobID: job.ID, Job: job, Err: rerr})
		return
	}
}

// isRedisFailure tells a transient Redis error (worth a retry) from a
// decision error of ours (bad opts, bad pattern).
func isRedisFailure(err error) bool {
	return !errors.Is(err, errBadSchedulerJob)
}

// hasLegacyRepeatKeyShape mirrors BullMQ 6's test for v5 repeatable keys
// `name:id:endDate:tz:suffix`: at least four colons, the endDate part empty
// or digits, and a non-empty suffix that contains a space (cron) or is
// all digits (every).
func hasLegacyRepeatKeyShape(key string) bool {
	parts := strings.SplitN(key, ":", 5)
	if len(parts) < 5 {
		return false
	}
	if parts[2] != "" && !allDigits(parts[2]) {
		return false
	}
	suffix := parts[4]
	if suffix == "" {
		return false
	}
	return strings.Contains(suffix, " ") || allDigits(suffix)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func jsonNum(v json.RawMessage) float64 {
	if len(v) == 0 {
		return 0
	}
	var f float64
	if json.Unmarshal(v, &f) == nil {
		return f
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		f, _ = strconv.ParseFloat(strings.TrimSpace(s), 64)
	}
	return f
}

func jsonStr(v json.RawMessage) string {
	var s string
	if len(v) > 0 && json.Unmarshal(v, &s) == nil {
		return s
	}
	return ""
}

// jsonDateMs reads a repeat date: epoch ms (number or numeric string) or
// an RFC 3339 / ISO date string, as JavaScript's new Date() mostly does.
func jsonDateMs(v json.RawMessage) (int64, bool, error) {
	if len(v) == 0 || string(v) == "null" {
		return 0, false, nil
	}
	var f float64
	if json.Unmarshal(v, &f) == nil {
		return int64(f), true, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return 0, false, fmt.Errorf("want a number or a date string, got %.40s", v)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMilli(), true, nil
		}
	}
	return 0, false, fmt.Errorf("unsupported date %.40q", s)
}
