package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// jobDetail is `queue job --json`.
type jobDetail struct {
	Queue           string          `json:"queue"`
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	State           queue.JobState  `json:"state"`
	Data            json.RawMessage `json:"data"`
	Options         json.RawMessage `json:"options"`
	Progress        json.RawMessage `json:"progress,omitempty"`
	CreatedAt       time.Time       `json:"created_at"`
	ProcessedAt     *time.Time      `json:"processed_at,omitempty"`
	FinishedAt      *time.Time      `json:"finished_at,omitempty"`
	DelayMS         int64           `json:"delay_ms,omitempty"`
	Priority        int             `json:"priority,omitempty"`
	AttemptsMade    int             `json:"attempts_made"`
	AttemptsStarted int             `json:"attempts_started"`
	ProcessedBy     string          `json:"processed_by,omitempty"`
	Result          json.RawMessage `json:"result,omitempty"`
	FailedReason    string          `json:"failed_reason,omitempty"`
	Stacktrace      []string        `json:"stacktrace,omitempty"`
	Parent          string          `json:"parent,omitempty"`
	Logs            []string        `json:"logs"`
	LogsTotal       int64           `json:"logs_total"`
	Malformed       string          `json:"malformed,omitempty"`
}

func msTime(ms int64) *time.Time {
	if ms <= 0 {
		return nil
	}
	t := time.UnixMilli(ms).UTC()
	return &t
}

func (q *queueEnv) job(ctx context.Context, f *queueFlags, pos []string) error {
	name, id := pos[0], pos[1]
	if f.logs < 0 || f.logs > maxPage {
		return usageErr("job: --logs must be between 0 and %d", maxPage)
	}
	qq, closeFn, err := q.open(ctx, "job", name)
	if err != nil {
		return err
	}
	defer closeFn()
	j, err := qq.GetJob(ctx, id)
	var mal *queue.MalformedJobError
	if err != nil && !errors.As(err, &mal) {
		return q.fail("job", name, id, err)
	}
	st, serr := qq.GetState(ctx, id)
	if serr != nil {
		return q.fail("job", name, id, serr)
	}
	d := jobDetail{Queue: name, ID: j.ID, Name: j.Name, State: st, Data: j.Data, Options: j.RawOpts, Progress: j.Progress,
		CreatedAt: time.UnixMilli(j.Timestamp).UTC(), ProcessedAt: msTime(j.ProcessedOn), FinishedAt: msTime(j.FinishedOn),
		DelayMS: j.Delay, Priority: j.Priority, AttemptsMade: j.AttemptsMade, AttemptsStarted: j.AttemptsStarted,
		ProcessedBy: j.ProcessedBy, Result: j.ReturnValue, FailedReason: j.FailedReason, Stacktrace: j.Stacktrace,
		Parent: j.ParentKey, Logs: []string{}}
	if mal != nil {
		d.Malformed = mal.Reason
	}
	if !json.Valid(d.Options) {
		d.Options = nil
	}
	if f.logs > 0 {
		logs, err := qq.GetJobLogs(ctx, id, 0, int64(f.logs-1), false)
		if err != nil {
			return q.fail("job", name, id, err)
		}
		for i := len(logs.Logs) - 1; i >= 0; i-- { // oldest of the last ones first
			d.Logs = append(d.Logs, logs.Logs[i])
		}
		d.LogsTotal = logs.Count
	}
	if f.json {
		return writeJSON(q.e.stdout, d)
	}
	printJob(q, &d, f.logs)
	return nil
}

// printJob prints a job for a terminal: one field a line, values escaped.
func printJob(q *queueEnv, d *jobDetail, logs int) {
	w := q.e.stdout
	line := func(k, v string) { fmt.Fprintf(w, "%-12s %s\n", k+":", v) }
	when := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Format(time.RFC3339Nano)
	}
	fmt.Fprintf(w, "job %s/%s\n", termSafe(d.Queue), termSafe(d.ID))
	line("name", termSafe(d.Name))
	line("state", string(d.State))
	line("created", d.CreatedAt.Format(time.RFC3339Nano))
	line("processed", when(d.ProcessedAt))
	line("finished", when(d.FinishedAt))
	line("attempts", fmt.Sprintf("%d made, %d started", d.AttemptsMade, d.AttemptsStarted))
	if d.Priority > 0 {
		line("priority", fmt.Sprint(d.Priority))
	}
	if d.DelayMS > 0 {
		line("delay", (time.Duration(d.DelayMS) * time.Millisecond).String())
	}
	if d.ProcessedBy != "" {
		line("worker", termSafe(d.ProcessedBy))
	}
	if d.Parent != "" {
		line("parent", termSafe(d.Parent))
	}
	if len(d.Progress) > 0 {
		line("progress", termSafe(string(d.Progress)))
	}
	line("data", termSafe(string(d.Data)))
	line("options", termSafe(string(d.Options)))
	if len(d.Result) > 0 {
		line("result", termSafe(string(d.Result)))
	}
	if d.FailedReason != "" {
		line("failure", termSafe(d.FailedReason))
	}
	for i, s := range d.Stacktrace {
		fmt.Fprintf(w, "stack[%d]:\n", i)
		for _, l := range strings.Split(s, "\n") {
			fmt.Fprintln(w, "  "+termSafe(l))
		}
	}
	if logs > 0 {
		fmt.Fprintf(w, "logs:        %d of %d (the last ones)\n", len(d.Logs), d.LogsTotal)
		for _, l := range d.Logs {
			fmt.Fprintln(w, "  "+termSafe(l))
		}
	}
	if d.Malformed != "" {
		fmt.Fprintf(q.e.stderr, "note: the job's hash is malformed (%s); shown as far as it could be read\n", termSafe(d.Malformed))
	}
}

// logPage is `queue logs --json`.
type logPage struct {
	Queue  string   `json:"queue"`
	ID     string   `json:"id"`
	Total  int64    `json:"total"`
	Offset int      `json:"offset"`
	Logs   []string `json:"logs"`
}

func (q *queueEnv) logs(ctx context.Context, f *queueFlags, pos []string) error {
	name, id := pos[0], pos[1]
	if err := checkPage("logs", f); err != nil {
		return err
	}
	qq, closeFn, err := q.open(ctx, "logs", name)
	if err != nil {
		return err
	}
	defer closeFn()
	logs, err := qq.GetJobLogs(ctx, id, int64(f.offset), int64(f.offset+f.limit-1), true)
	if err != nil {
		return q.fail("logs", name, id, err)
	}
	if logs.Count == 0 {
		if st, err := qq.GetState(ctx, id); err != nil || st == queue.StateUnknown {
			return q.fail("logs", name, id, errors.Join(err, queue.ErrJobNotFound))
		}
	}
	if f.json {
		return writeJSON(q.e.stdout, logPage{Queue: name, ID: id, Total: logs.Count, Offset: f.offset, Logs: logs.Logs})
	}
	for _, l := range logs.Logs {
		fmt.Fprintln(q.e.stdout, termSafe(l))
	}
	switch {
	case logs.Count == 0:
		fmt.Fprintf(q.e.stderr, "job %s/%s has no log lines\n", termSafe(name), termSafe(id))
	case int64(f.offset+len(logs.Logs)) < logs.Count:
		fmt.Fprintf(q.e.stderr, "lines %d-%d of %d (next page: --offset %d)\n", f.offset+1, f.offset+len(logs.Logs), logs.Count, f.offset+f.limit)
	}
	return nil
}
