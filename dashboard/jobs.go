package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// listStates are the states the job list pages through.
var listStates = []queue.JobState{queue.StateWaiting, queue.StateActive, queue.StateDelayed, queue.StatePrioritized,
	queue.StateWaitingChildren, queue.StateCompleted, queue.StateFailed}

// maxLogLines bounds the log lines of the job page.
const maxLogLines = 200

// maxValueBytes bounds data, return value and progress on the job page.
const maxValueBytes = 64 << 10

// jobRow is one line of the job list.
type jobRow struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Timestamp    int64  `json:"timestamp"`
	ProcessedOn  int64  `json:"processed_on,omitempty"`
	FinishedOn   int64  `json:"finished_on,omitempty"`
	AttemptsMade int    `json:"attempts_made"`
	Attempts     int    `json:"attempts"`
	DurationMS   *int64 `json:"duration_ms,omitempty"`
	FailedReason string `json:"failed_reason,omitempty"` // first line
	State        string `json:"state,omitempty"`
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func rowOf(j *queue.Job) jobRow {
	r := jobRow{ID: j.ID, Name: j.Name, Timestamp: j.Timestamp, ProcessedOn: j.ProcessedOn, FinishedOn: j.FinishedOn,
		AttemptsMade: j.AttemptsMade, Attempts: j.Opts.Attempts, FailedReason: firstLine(j.FailedReason)}
	if j.ProcessedOn > 0 && j.FinishedOn >= j.ProcessedOn {
		d := j.FinishedOn - j.ProcessedOn
		r.DurationMS = &d
	}
	return r
}

func parseState(v string) (queue.JobState, error) {
	for _, s := range listStates {
		if string(s) == v {
			return s, nil
		}
	}
	return "", errorf(http.StatusBadRequest, "state %.40q is not one of waiting, active, delayed, prioritized, waiting-children, completed, failed", v)
}

func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errorf(http.StatusBadRequest, "%s must be a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}

// listJobs answers one page of a queue's jobs in a state, newest first,
// or the one job whose id is ?id= (search).
func (s *Server) listJobs(w http.ResponseWriter, r *http.Request, _ *caller) error {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	q, err := s.openQueue(ctx, r)
	if err != nil {
		return err
	}
	if id := r.URL.Query().Get("id"); id != "" {
		return s.searchJob(ctx, w, q, id)
	}
	state, err := parseState(r.URL.Query().Get("state"))
	if err != nil {
		return err
	}
	size, err := intParam(r, "size", DefaultPageSize, 1, MaxPageSize)
	if err != nil {
		return err
	}
	page, err := intParam(r, "page", 0, 0, 1_000_000)
	if err != nil {
		return err
	}
	counts, err := q.GetJobCounts(ctx, state)
	if err != nil {
		return redisError("counting "+string(state)+" jobs", err)
	}
	start := int64(page * size)
	jobs, err := q.GetJobs(ctx, []queue.JobState{state}, start, start+int64(size)-1, false)
	var bad *queue.MalformedJobError
	if err != nil && !errors.As(err, &bad) {
		return redisError("listing jobs", err)
	}
	rows := make([]jobRow, 0, len(jobs))
	for _, j := range jobs {
		rows = append(rows, rowOf(j))
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue": q.Name(), "state": state, "page": page, "size": size,
		"total": counts[state], "jobs": rows})
	return nil
}

func (s *Server) searchJob(ctx context.Context, w http.ResponseWriter, q *queue.Queue, id string) error {
	if err := checkName("job id", id); err != nil {
		return err
	}
	rows := []jobRow{}
	j, err := q.GetJob(ctx, id)
	var bad *queue.MalformedJobError
	switch {
	case errors.Is(err, queue.ErrJobNotFound):
	case err != nil && !errors.As(err, &bad):
		return redisError("reading job "+id, err)
	default:
		row := rowOf(j)
		st, err := q.GetState(ctx, id)
		if err != nil {
			return redisError("reading job "+id, err)
		}
		row.State = string(st)
		rows = append(rows, row)
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue": q.Name(), "id": id, "total": len(rows), "jobs": rows})
	return nil
}

// jobPage is everything the job page shows.
type jobPage struct {
	ID              string          `json:"id"`
	Queue           string          `json:"queue"`
	Name            string          `json:"name"`
	State           string          `json:"state"`
	Data            json.RawMessage `json:"data"`
	Opts            json.RawMessage `json:"opts"`
	Progress        json.RawMessage `json:"progress,omitempty"`
	ReturnValue     json.RawMessage `json:"returnvalue,omitempty"`
	FailedReason    string          `json:"failed_reason,omitempty"`
	Stacktrace      []string        `json:"stacktrace"`
	AttemptsMade    int             `json:"attempts_made"`
	AttemptsStarted int             `json:"attempts_started"`
	Attempts        int             `json:"attempts"`
	StalledCounter  int             `json:"stalled_counter"`
	Timestamp       int64           `json:"timestamp"`
	ProcessedOn     int64           `json:"processed_on,omitempty"`
	FinishedOn      int64           `json:"finished_on,omitempty"`
	Delay           int64           `json:"delay,omitempty"`
	Priority        int             `json:"priority,omitempty"`
	ProcessedBy     string          `json:"processed_by,omitempty"`
	Logs            []string        `json:"logs"`
	LogCount        int64           `json:"log_count"`
	Parent          *jobLink        `json:"parent,omitempty"`
	Children        []childLink     `json:"children"`
	// PendingChildren are the first page of the children not finished
	// yet; PendingCursor continues the list (GET …/jobs/{id}/children?cursor=),
	// "" when there is no more.
	PendingChildren []jobLink `json:"pending_children"`
	PendingCursor   string    `json:"pending_cursor,omitempty"`
	// PendingCut: Redis returned more than a page at once (a set kept
	// compact by a raised set-max-listpack-entries) and the rest is not shown.
	PendingCut bool            `json:"pending_truncated,omitempty"`
	Malformed  string          `json:"malformed,omitempty"`
	Truncated  map[string]bool `json:"truncated,omitempty"`
}

// jobLink names a job in a queue of the same prefix ("" Queue: another
// prefix, shown as Key).
type jobLink struct {
	Queue string `json:"queue,omitempty"`
	ID    string `json:"id"`
	Key   string `json:"key"`
}

type childLink struct {
	jobLink
	Value json.RawMessage `json:"value,omitempty"`
}

// linkOf is the link to the job whose key is key ("<prefix>:<queue>:<id>",
// as flows store parents and children); Queue is empty when the job is
// under another prefix.
func (s *Server) linkOf(key string) jobLink {
	l := jobLink{ID: key[strings.LastIndexByte(key, ':')+1:], Key: key}
	if name, id, ok := queue.ParseJobKey(s.o.Prefix, key); ok {
		l.Queue, l.ID = name, id
	}
	return l
}

func clip(page *jobPage, field string, v json.RawMessage) json.RawMessage {
	if len(v) <= maxValueBytes {
		return v
	}
	if page.Truncated == nil {
		page.Truncated = map[string]bool{}
	}
	page.Truncated[field] = true
	b, _ := json.Marshal(string(v[:maxValueBytes]) + "…")
	return b
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request, _ *caller) error {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	q, j, err := s.openJob(ctx, r)
	if err != nil {
		return err
	}
	st, err := j.GetState(ctx)
	if err != nil {
		return redisError("reading job state", err)
	}
	p := &jobPage{ID: j.ID, Queue: q.Name(), Name: j.Name, State: string(st),
		FailedReason: j.FailedReason, Stacktrace: j.Stacktrace, AttemptsMade: j.AttemptsMade, AttemptsStarted: j.AttemptsStarted,
		Attempts: j.Opts.Attempts, StalledCounter: j.StalledCounter, Timestamp: j.Timestamp, ProcessedOn: j.ProcessedOn,
		FinishedOn: j.FinishedOn, Delay: j.Delay, Priority: j.Priority, ProcessedBy: j.ProcessedBy, Children: []childLink{}}
	p.Data = clip(p, "data", j.Data)
	p.Opts = clip(p, "opts", j.RawOpts)
	p.Progress = clip(p, "progress", j.Progress)
	p.ReturnValue = clip(p, "returnvalue", j.ReturnValue)
	if p.Stacktrace == nil {
		p.Stacktrace = []string{}
	}
	logs, err := q.GetJobLogs(ctx, j.ID, 0, maxLogLines-1, true)
	if err != nil {
		return redisError("reading job logs", err)
	}
	p.Logs, p.LogCount = logs.Logs, logs.Count
	if j.ParentKey != "" {
		l := s.linkOf(j.ParentKey)
		p.Parent = &l
	}
	vals, err := j.GetChildrenValues(ctx)
	if err != nil {
		return redisError("reading children", err)
	}
	for key, v := range vals {
		p.Children = append(p.Children, childLink{jobLink: s.linkOf(key), Value: clip(p, "children", v)})
		if len(p.Children) >= MaxPageSize {
			break
		}
	}
	if p.PendingChildren, p.PendingCursor, p.PendingCut, err = s.pendingChildren(ctx, j, 0); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// pendingPage is the SSCAN count hint of one page of pending children;
// maxPendingPage bounds what one page returns (a small set comes whole in
// one SSCAN reply, up to Redis's 128 listpack entries).
const (
	pendingPage    = 50
	maxPendingPage = 200
)

// pendingChildren reads one page of a flow parent's children that have not
// finished (its dependencies), from cursor, with the cursor of the next
// page ("" when the list is complete), and whether the page was cut at
// maxPendingPage.
func (s *Server) pendingChildren(ctx context.Context, j *queue.Job, cursor uint64) ([]jobLink, string, bool, error) {
	d, err := j.GetDependencies(ctx, &queue.DependenciesOptions{Unprocessed: &queue.DependencyPage{Cursor: cursor, Count: pendingPage}})
	if err != nil {
		return nil, "", false, redisError("reading pending children", err)
	}
	out := make([]jobLink, 0, min(len(d.Unprocessed), maxPendingPage))
	for _, key := range d.Unprocessed[:min(len(d.Unprocessed), maxPendingPage)] {
		out = append(out, s.linkOf(key))
	}
	next := ""
	if d.NextUnprocessedCursor != 0 {
		next = strconv.FormatUint(d.NextUnprocessedCursor, 10)
	}
	return out, next, len(d.Unprocessed) > maxPendingPage, nil
}

// listPending answers a further page of a job's pending children:
// ?cursor= is the pending_cursor of the job page or of the previous page.
func (s *Server) listPending(w http.ResponseWriter, r *http.Request, _ *caller) error {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	v := r.URL.Query().Get("cursor")
	cursor, err := strconv.ParseUint(v, 10, 64)
	if v != "" && err != nil {
		return errorf(http.StatusBadRequest, "cursor must be the pending_cursor of the previous page (a whole number), not %.40q", v)
	}
	q, j, err := s.openJob(ctx, r)
	if err != nil {
		return err
	}
	links, next, cut, err := s.pendingChildren(ctx, j, cursor)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue": q.Name(), "id": j.ID, "pending_children": links, "pending_cursor": next,
		"pending_truncated": cut})
	return nil
}

// openJob reads the job named in the path (404 when it is gone).
func (s *Server) openJob(ctx context.Context, r *http.Request) (*queue.Queue, *queue.Job, error) {
	q, err := s.openQueue(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	id := r.PathValue("id")
	if err := checkName("job id", id); err != nil {
		return nil, nil, err
	}
	j, err := q.GetJob(ctx, id)
	var bad *queue.MalformedJobError
	switch {
	case errors.Is(err, queue.ErrJobNotFound):
		return nil, nil, errorf(http.StatusNotFound, "no job %q in queue %q (removed, or never existed)", id, q.Name())
	case err != nil && !errors.As(err, &bad):
		return nil, nil, redisError("reading job "+id, err)
	}
	return q, j, nil
}
