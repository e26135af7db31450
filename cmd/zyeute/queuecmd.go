package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/queue"
	"github.com/zyeute/zyeute-redis/redisconn"
)

const queueUsage = `Usage: zyeute queue <subcommand> [flags] [args]

Subcommands:
  stats [--json] [queue...]                  counts per state, paused, workers, oldest waiting age, active without lock
  list <queue> <state> [--limit 20] [--offset 0] [--json]
                                             states: waiting, prioritized, delayed, active, waiting-children, completed, failed
  add <queue> <name> <json> [--delay 5s] [--priority N] [--attempts N] [--job-id ID]
                                             validate the payload and store the job (needs Redis)
  retry <queue> <id> [--reset-attempts]      move a failed or completed job back to wait
  promote <queue> <id>                       run a delayed job now
  remove <queue> <id>                        delete a job no worker holds
  pause <queue> | resume <queue>             stop / restart fetching, for Go and Node workers alike

Queues: ` + "video-enhancement, analytics, blockchain-sync, memory-mining, privacy-audit" + ` (stats, list, retry, promote,
remove, pause and resume accept any BullMQ queue name under QUEUE_PREFIX).
Exit codes: 0 ok, 1 failure (Redis unreachable, job not found…), 2 usage, 3 Redis not configured.
`

// queueEnv is what a queue subcommand works with.
type queueEnv struct {
	e      *env
	prefix string
	conn   *redisconn.Conn
	reg    *jobs.Registry
}

// usageErr and failure escape control characters: their messages may
// carry job ids and names read from Redis or typed by the user.
func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: errors.New(escapeControls(fmt.Sprintf("queue: "+format, a...)))}
}

// parseInterspersed parses flags wherever they appear among the
// positional arguments and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) (pos []string, done bool, err error) {
	for n := len(args); n >= 0; n-- { // bounded: each pass consumes at least one argument
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, true, nil
			}
			return nil, true, &exitError{code: exitUsage, err: err}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return pos, false, nil
}

func runQueueCmd(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			_, _ = io.WriteString(e.stderr, queueUsage)
			return usageErr("missing subcommand")
		}
		_, _ = io.WriteString(e.stdout, queueUsage)
		return nil
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("queue "+sub, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { _, _ = io.WriteString(e.stderr, queueUsage) }
	jsonOut := fs.Bool("json", false, "print JSON")
	limit := fs.Int("limit", 20, "list: how many jobs")
	offset := fs.Int("offset", 0, "list: skip this many")
	delay := fs.Duration("delay", 0, "add: delay before the job runs")
	priority := fs.Int("priority", 0, "add: priority, 1 (highest) to 2097151")
	attempts := fs.Int("attempts", 0, "add: attempts in all (default 3)")
	jobID := fs.String("job-id", "", "add: custom job id")
	reset := fs.Bool("reset-attempts", false, "retry: give the job its full attempts again")
	pos, done, err := parseInterspersed(fs, rest)
	if done {
		return err
	}
	want := map[string][2]int{"stats": {0, 1 << 10}, "list": {2, 2}, "add": {3, 3}, "retry": {2, 2}, "promote": {2, 2},
		"remove": {2, 2}, "pause": {1, 1}, "resume": {1, 1}}
	n, ok := want[sub]
	if !ok {
		_, _ = io.WriteString(e.stderr, queueUsage)
		return usageErr("unknown subcommand %q", truncateArg(sub))
	}
	if len(pos) < n[0] || len(pos) > n[1] {
		_, _ = io.WriteString(e.stderr, queueUsage)
		return usageErr("%s: wrong number of arguments", sub)
	}
	reg, err := jobs.NewRegistry(nil)
	if err != nil {
		return err
	}
	// Argument checks that need no Redis come first.
	var state queue.JobState
	var addData json.RawMessage
	var addOpts *queue.AddOptions
	switch sub {
	case "list":
		if state, err = jobs.ParseState(pos[1]); err != nil {
			return usageErr("list: %v", err)
		}
		if *limit < 1 || *limit > jobs.MaxList || *offset < 0 {
			return usageErr("list: --limit must be between 1 and %d and --offset at least 0", jobs.MaxList)
		}
	case "add":
		spec, err := reg.Spec(pos[0])
		if err != nil {
			return usageErr("add: %s", strings.TrimPrefix(err.Error(), "jobs: "))
		}
		addData = json.RawMessage(pos[2])
		if err := spec.Validate(addData); err != nil {
			return usageErr("add: %v", err)
		}
		if addOpts, err = jobs.AddOptionsFor(&jobs.EnqueueOptions{Delay: *delay, Priority: *priority, Attempts: *attempts, JobID: *jobID}); err != nil {
			return usageErr("add: %v", err)
		}
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	conn, err := connectRedis(ctx, e, "queue", cfg, newLogger(cfg.Log, e.stderr), redisNeeds{required: true})
	if err != nil {
		return err
	}
	defer conn.Close()
	if st := conn.Check(ctx); st.State != redisconn.Connected {
		return &exitError{code: exitFailure, err: fmt.Errorf("queue: redis unreachable at %s: %s", conn.Target(), st.Message)}
	}
	q := &queueEnv{e: e, prefix: cfg.QueuePrefix, conn: conn, reg: reg}
	switch sub {
	case "stats":
		return q.stats(ctx, pos, *jsonOut)
	case "list":
		return q.list(ctx, pos[0], state, *offset, *limit, *jsonOut)
	case "add":
		return q.add(ctx, pos[0], pos[1], addData, addOpts, *jsonOut)
	case "retry", "promote", "remove":
		return q.jobOp(ctx, sub, pos[0], pos[1], *reset)
	default: // pause, resume
		return q.pauseResume(ctx, sub, pos[0])
	}
}

func truncateArg(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// failure turns a runtime error into exit 1 without Redis internals noise.
func failure(err error) error {
	return &exitError{code: exitFailure, err: errors.New(escapeControls("queue: " + strings.TrimPrefix(err.Error(), "jobs: ")))}
}

func (q *queueEnv) stats(ctx context.Context, names []string, jsonOut bool) error {
	if len(names) == 0 {
		names = q.reg.Names()
	}
	for _, n := range names {
		if _, err := queue.NewQueue(q.conn.Client(), n, &queue.QueueOptions{Prefix: q.prefix}); err != nil {
			return usageErr("stats: %s", strings.TrimPrefix(err.Error(), "queue: "))
		}
	}
	st, err := jobs.NewStats(q.conn, names, &jobs.StatsConfig{Prefix: q.prefix})
	if err != nil {
		return err
	}
	snap, err := st.Refresh(ctx)
	if err != nil {
		return failure(err)
	}
	if jsonOut {
		return writeJSON(q.e.stdout, snap)
	}
	tw := tabwriter.NewWriter(q.e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tWAITING\tACTIVE\tDELAYED\tPRIORITIZED\tCOMPLETED\tFAILED\tPAUSED\tWORKERS\tOLDEST WAITING\tACTIVE NO LOCK")
	for _, s := range snap.Queues {
		c := s.Counts
		workers, oldest := "?", "-"
		if s.Workers != nil {
			workers = strconv.Itoa(*s.Workers)
		}
		if s.OldestWaitingAgeSeconds != nil {
			oldest = (time.Duration(*s.OldestWaitingAgeSeconds * float64(time.Second))).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%t\t%s\t%s\t%d\n", termSafe(s.Queue), c.Waiting+c.Paused, c.Active, c.Delayed,
			c.Prioritized, c.Completed, c.Failed, s.Paused, workers, oldest, s.ActiveWithoutLock)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if snap.WorkersError != "" {
		fmt.Fprintln(q.e.stderr, "note: worker counts unknown: "+escapeControls(snap.WorkersError))
	}
	return nil
}

// listedJob is one line of `queue list --json`.
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

func (q *queueEnv) list(ctx context.Context, name string, state queue.JobState, offset, limit int, jsonOut bool) error {
	a, err := jobs.NewAdmin(q.conn.Client(), q.prefix)
	if err != nil {
		return err
	}
	js, err := a.List(ctx, name, state, offset, limit)
	if err != nil {
		if strings.Contains(err.Error(), "queue name") {
			return usageErr("list: %s", strings.TrimPrefix(err.Error(), "queue: "))
		}
		return failure(err)
	}
	out := make([]listedJob, len(js))
	for i, j := range js {
		out[i] = listedJob{ID: j.ID, Name: j.Name, Data: j.Data, CreatedAt: time.UnixMilli(j.Timestamp).UTC(), AttemptsMade: j.AttemptsMade,
			Priority: j.Priority, DelayMS: j.Delay, ProcessedBy: j.ProcessedBy, FailedReason: j.FailedReason, Result: j.ReturnValue}
	}
	if jsonOut {
		return writeJSON(q.e.stdout, out)
	}
	tw := tabwriter.NewWriter(q.e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED\tATTEMPTS\tFAILED REASON")
	// Ids, names and reasons come from Redis, written by any producer:
	// control characters and bidi overrides are printed escaped.
	for _, j := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", termSafe(j.ID), termSafe(j.Name), j.CreatedAt.Format(time.RFC3339), j.AttemptsMade,
			termSafe(truncateRunes(strings.ReplaceAll(j.FailedReason, "\n", " "), 40)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(out) == 0 {
		fmt.Fprintf(q.e.stderr, "no %s jobs in %s\n", state, termSafe(name))
	}
	return nil
}

// add stores the job; unlike the HTTP API it never runs it here: Redis
// being unreachable is an error.
func (q *queueEnv) add(ctx context.Context, name, jobName string, data json.RawMessage, ao *queue.AddOptions, jsonOut bool) error {
	qq, err := queue.NewQueue(q.conn.Client(), name, &queue.QueueOptions{Prefix: q.prefix, MaxDataSize: jobs.MaxPayloadSize})
	if err != nil {
		return err
	}
	job, err := qq.Add(ctx, jobName, data, ao)
	if err != nil {
		if errors.Is(err, queue.ErrInvalidOption) {
			return usageErr("add: %s", strings.TrimPrefix(err.Error(), "queue: "))
		}
		return failure(err)
	}
	if jsonOut {
		return writeJSON(q.e.stdout, map[string]string{"id": job.ID, "queue": name, "name": jobName, "mode": string(jobs.ModeQueued)})
	}
	fmt.Fprintf(q.e.stdout, "added %s/%s (name %s)\n", termSafe(name), termSafe(job.ID), termSafe(jobName))
	return nil
}

func (q *queueEnv) jobOp(ctx context.Context, op, name, id string, reset bool) error {
	a, err := jobs.NewAdmin(q.conn.Client(), q.prefix)
	if err != nil {
		return err
	}
	switch op {
	case "promote":
		err = a.Promote(ctx, name, id)
	case "remove":
		err = a.Remove(ctx, name, id)
	case "retry":
		qq, qerr := queue.NewQueue(q.conn.Client(), name, &queue.QueueOptions{Prefix: q.prefix})
		if qerr != nil {
			return usageErr("retry: %s", strings.TrimPrefix(qerr.Error(), "queue: "))
		}
		st, serr := qq.GetState(ctx, id)
		if serr != nil {
			return failure(serr)
		}
		switch st {
		case queue.StateFailed, queue.StateCompleted:
			err = a.Retry(ctx, name, id, st, reset)
		case queue.StateUnknown:
			err = fmt.Errorf("retry %s/%s: %w", name, id, queue.ErrJobNotFound)
		default:
			err = fmt.Errorf("retry %s/%s: the job is %s; only failed or completed jobs can be retried", name, id, st)
		}
	}
	if err != nil {
		if strings.Contains(err.Error(), "queue name") || strings.Contains(err.Error(), "job id must") {
			return usageErr("%s: %s", op, strings.TrimPrefix(err.Error(), "queue: "))
		}
		return failure(err)
	}
	past := map[string]string{"promote": "promoted", "remove": "removed", "retry": "moved back to wait"}[op]
	fmt.Fprintf(q.e.stdout, "%s/%s %s\n", termSafe(name), termSafe(id), past)
	return nil
}

func (q *queueEnv) pauseResume(ctx context.Context, op, name string) error {
	qq, err := queue.NewQueue(q.conn.Client(), name, &queue.QueueOptions{Prefix: q.prefix})
	if err != nil {
		return usageErr("%s: %s", op, strings.TrimPrefix(err.Error(), "queue: "))
	}
	if op == "pause" {
		err = qq.Pause(ctx)
	} else {
		err = qq.Resume(ctx)
	}
	if err != nil {
		return failure(err)
	}
	fmt.Fprintf(q.e.stdout, "%s %sd\n", termSafe(name), op)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
