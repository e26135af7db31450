package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// JobState is where a job is, with Node BullMQ's getState names.
type JobState string

const (
	StateWaiting         JobState = "waiting"
	StatePrioritized     JobState = "prioritized"
	StateDelayed         JobState = "delayed"
	StateActive          JobState = "active"
	StateWaitingChildren JobState = "waiting-children"
	StateCompleted       JobState = "completed"
	StateFailed          JobState = "failed"
	StateUnknown         JobState = "unknown"
)

// Job is one job as stored in its hash. A worker hands its handler a *Job
// whose Context is cancelled when the lock is lost or the worker closes.
type Job struct {
	ID   string
	Name string
	// Data is the JSON payload; decode it with Unmarshal.
	Data json.RawMessage
	Opts JobOptions
	// RawOpts is the stored opts JSON, unchanged.
	RawOpts json.RawMessage

	Timestamp       int64 // ms since the epoch
	Delay           int64 // ms, the relative delay last applied
	Priority        int
	ProcessedOn     int64 // ms; 0 when never started
	FinishedOn      int64 // ms; 0 when not finished
	AttemptsMade    int   // atm
	AttemptsStarted int   // ats
	StalledCounter  int   // stc
	ReturnValue     json.RawMessage
	FailedReason    string
	Stacktrace      []string
	Progress        json.RawMessage
	DeferredFailure string // defa
	ProcessedBy     string // pb
	ParentKey       string
	Parent          json.RawMessage
	RepeatJobKey    string // rjk
	DeduplicationID string // deid

	// worker-side state, set for jobs handed to a handler.
	q     *Queue
	token string
	w     *Worker // set by Worker.GetNextJob (manual processing)
}

// Unmarshal decodes the job's data into v.
func (j *Job) Unmarshal(v any) error {
	if err := json.Unmarshal(j.Data, v); err != nil {
		return fmt.Errorf("queue: job %s data: %w", j.ID, err)
	}
	return nil
}

// Token is the lock token of a job being processed ("" otherwise).
func (j *Job) Token() string { return j.token }

// MalformedJobError says a stored job hash could not be read.
type MalformedJobError struct {
	ID     string
	Reason string
}

func (e *MalformedJobError) Error() string {
	return fmt.Sprintf("queue: job %s is malformed: %s", e.ID, e.Reason)
}

// jobFromHash builds a Job from HGETALL fields. It is tolerant where Node is
// tolerant (returnvalue, stacktrace) and strict where Node is strict (data,
// opts, progress, parent are JSON): a strict failure returns the job with
// what could be read and a *MalformedJobError.
func jobFromHash(id string, h map[string]string) (*Job, error) {
	j := &Job{ID: id}
	var bad string
	note := func(s string) {
		if bad == "" {
			bad = s
		}
	}
	name, ok := h["name"]
	if !ok {
		note("field name is missing")
	}
	j.Name = name
	if d, ok := h["data"]; !ok {
		note("field data is missing")
		j.Data = json.RawMessage("{}")
	} else if !json.Valid([]byte(d)) {
		note("field data is not valid JSON")
		j.Data = json.RawMessage("{}")
	} else {
		j.Data = json.RawMessage(d)
	}
	if o, ok := h["opts"]; ok {
		j.RawOpts = json.RawMessage(o)
		if err := json.Unmarshal([]byte(o), &j.Opts); err != nil {
			note("field opts: " + err.Error())
		}
	} else {
		note("field opts is missing")
	}
	intField := func(field string, dst *int64) {
		v, ok := h[field]
		if !ok || v == "" {
			return
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(v, 64)
			if ferr != nil {
				note(fmt.Sprintf("field %s is not a number (%.20q)", field, v))
				return
			}
			n = int64(f)
		}
		*dst = n
	}
	var prio, atm, ats, stc int64
	intField("timestamp", &j.Timestamp)
	intField("delay", &j.Delay)
	intField("priority", &prio)
	intField("processedOn", &j.ProcessedOn)
	intField("finishedOn", &j.FinishedOn)
	intField("atm", &atm)
	if _, ok := h["atm"]; !ok {
		intField("attemptsMade", &atm)
	}
	intField("ats", &ats)
	intField("stc", &stc)
	j.Priority, j.AttemptsMade, j.AttemptsStarted, j.StalledCounter = int(prio), int(atm), int(ats), int(stc)

	if rv, ok := h["returnvalue"]; ok && json.Valid([]byte(rv)) {
		j.ReturnValue = json.RawMessage(rv)
	}
	j.FailedReason = h["failedReason"]
	if st, ok := h["stacktrace"]; ok {
		_ = json.Unmarshal([]byte(st), &j.Stacktrace)
	}
	if p, ok := h["progress"]; ok {
		if json.Valid([]byte(p)) {
			j.Progress = json.RawMessage(p)
		} else {
			note("field progress is not valid JSON")
		}
	}
	j.DeferredFailure = h["defa"]
	j.ProcessedBy = h["pb"]
	j.ParentKey = h["parentKey"]
	if p, ok := h["parent"]; ok {
		if json.Valid([]byte(p)) {
			j.Parent = json.RawMessage(p)
		} else {
			note("field parent is not valid JSON")
		}
	}
	j.RepeatJobKey = h["rjk"]
	j.DeduplicationID = h["deid"]
	if bad != "" {
		return j, &MalformedJobError{ID: id, Reason: bad}
	}
	return j, nil
}

// TimestampTime is Timestamp as a time.Time.
func (j *Job) TimestampTime() time.Time { return time.UnixMilli(j.Timestamp) }

// UpdateProgress stores v (any JSON value) as the job's progress and emits
// a `progress` event carrying the same JSON. The job must come from a
// Worker or Queue.GetJob.
func (j *Job) UpdateProgress(ctx context.Context, v any) error {
	if j.q == nil {
		return errors.New("queue: job not bound to a queue")
	}
	b, err := marshalJSON(v)
	if err != nil {
		return fmt.Errorf("queue: progress cannot be encoded as JSON: %w", err)
	}
	if _, err := scriptUpdateProgress.run(ctx, j.q.c, j.ID, []string{j.q.k.meta(), j.q.k.events()},
		j.q.k.base, j.ID, string(b)); err != nil {
		return err
	}
	j.Progress = json.RawMessage(b)
	return nil
}

// Log appends a line to the job's log (`<job>:logs`), keeping only the
// last KeepLogs lines when the job's keepLogs option is set.
func (j *Job) Log(ctx context.Context, line string) error {
	if j.q == nil {
		return errors.New("queue: job not bound to a queue")
	}
	_, err := scriptAddLog.run(ctx, j.q.c, j.ID, []string{j.q.k.job(j.ID), j.q.k.logs(j.ID)},
		line, j.Opts.KeepLogs)
	return err
}
