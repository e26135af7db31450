package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/queue"
	"github.com/zyeute/zyeute-redis/redisconn"
)

const queueUsage = `Usage: zyeute queue <subcommand> [flags] [args]

Reading:
  stats [--json] [queue...]                  counts per state, paused, workers, oldest waiting age, active without
                                             lock; no queue: every queue under QUEUE_PREFIX (Node's too)
  jobs <queue> <state> [--limit 20] [--offset 0] [--json]
                                             one page of jobs (alias: list); states: waiting, prioritized,
                                             delayed, active, waiting-children, completed, failed
  job <queue> <id> [--logs 20] [--json]      one job: data, options, state, progress, result, failure and
                                             stack trace, timestamps, last log lines
  logs <queue> <id> [--limit 100] [--offset 0] [--json]
                                             a job's log lines, oldest first
  events <queue> [--from $|0|<id>] [--json]  follow the queue's events live until Ctrl-C ($: new events only;
                                             0: the whole stream first; an event id: resume after it)
Changing:
  add <queue> <name> <json> [--delay 5s] [--priority N] [--attempts N] [--job-id ID]
                                             validate the payload and store the job (app queues only)
  retry <queue> <id> [--reset-attempts]      move a failed or completed job back to wait
  retry <queue> --all [failed|completed]     move every failed (default) or completed job back to wait
  promote <queue> <id> | promote <queue> --all
                                             run a delayed job (every delayed job) now
  remove <queue> <id>                        delete a job no worker holds
  pause <queue> | resume <queue>             stop / restart fetching, for Go and Node workers alike
Deleting (ask to type the queue name unless --force):
  clean <queue> <state> [--grace 0s] [--limit 0] [--force] [--json]
                                             delete jobs of a state older than grace (limit 0: all)
  drain <queue> [--delayed] [--force]        delete the jobs waiting to run (and the delayed ones)
  obliterate <queue> [--include-active] [--force]
                                             delete the queue and every job of it

Queues: any BullMQ queue name under QUEUE_PREFIX ("add" takes the app queues: ` + "video-enhancement, analytics,\n" +
	`blockchain-sync, memory-mining, privacy-audit).
Exit codes: 0 ok, 1 failure (Redis unreachable, job or queue not found, aborted…), 2 usage, 3 Redis not configured.
`

// queueEnv is what a queue subcommand works with.
type queueEnv struct {
	e      *env
	in     io.Reader // answers to confirmation prompts
	prefix string
	conn   *redisconn.Conn
	c      redis.UniversalClient
	// destroy returns the destructive operations of a queue (tests plug
	// in their own).
	destroy func(*queue.Queue) destroyer
}

// queueFlags are every flag of the queue subcommands; each subcommand
// declares the ones it takes (queueSubs).
type queueFlags struct {
	json, reset, all, force, delayed, includeActive bool
	limit, offset, priority, attempts, logs         int
	delay, grace                                    time.Duration
	jobID, from                                     string
	sub                                             string // the subcommand
}

// queueSub is one subcommand: its positional arguments (min, max), its
// flags, and what it runs.
type queueSub struct {
	args  [2]int
	flags []string
	run   func(q *queueEnv, ctx context.Context, f *queueFlags, pos []string) error
}

var queueSubs = map[string]queueSub{
	"stats":      {[2]int{0, 1 << 10}, []string{"json"}, (*queueEnv).stats},
	"jobs":       {[2]int{2, 2}, []string{"json", "limit", "offset"}, (*queueEnv).jobs},
	"list":       {[2]int{2, 2}, []string{"json", "limit", "offset"}, (*queueEnv).jobs},
	"job":        {[2]int{2, 2}, []string{"json", "logs"}, (*queueEnv).job},
	"logs":       {[2]int{2, 2}, []string{"json", "limit", "offset"}, (*queueEnv).logs},
	"events":     {[2]int{1, 1}, []string{"json", "from"}, (*queueEnv).events},
	"add":        {[2]int{3, 3}, []string{"json", "delay", "priority", "attempts", "job-id"}, (*queueEnv).add},
	"retry":      {[2]int{1, 2}, []string{"reset-attempts", "all"}, (*queueEnv).retry},
	"promote":    {[2]int{1, 2}, []string{"all"}, (*queueEnv).promote},
	"remove":     {[2]int{2, 2}, nil, (*queueEnv).remove},
	"pause":      {[2]int{1, 1}, nil, (*queueEnv).pauseResume},
	"resume":     {[2]int{1, 1}, nil, (*queueEnv).pauseResume},
	"clean":      {[2]int{2, 2}, []string{"json", "grace", "limit", "force"}, (*queueEnv).clean},
	"drain":      {[2]int{1, 1}, []string{"delayed", "force"}, (*queueEnv).drain},
	"obliterate": {[2]int{1, 1}, []string{"include-active", "force"}, (*queueEnv).obliterate},
}

// defineQueueFlags declares on fs the named flags, bound to f.
func defineQueueFlags(fs *flag.FlagSet, f *queueFlags, names []string, sub string) {
	limit := 20
	if sub == "logs" {
		limit = 100
	} else if sub == "clean" {
		limit = 0
	}
	for _, n := range names {
		switch n {
		case "json":
			fs.BoolVar(&f.json, n, false, "print JSON")
		case "limit":
			fs.IntVar(&f.limit, n, limit, "how many")
		case "offset":
			fs.IntVar(&f.offset, n, 0, "skip this many")
		case "logs":
			fs.IntVar(&f.logs, n, 20, "how many of the last log lines to show")
		case "from":
			fs.StringVar(&f.from, n, "$", "where to start: $ (new events), 0 (whole stream) or an event id")
		case "delay":
			fs.DurationVar(&f.delay, n, 0, "delay before the job runs")
		case "priority":
			fs.IntVar(&f.priority, n, 0, "priority, 1 (highest) to 2097151")
		case "attempts":
			fs.IntVar(&f.attempts, n, 0, "attempts in all (default 3)")
		case "job-id":
			fs.StringVar(&f.jobID, n, "", "custom job id")
		case "reset-attempts":
			fs.BoolVar(&f.reset, n, false, "give the job its full attempts again")
		case "all":
			fs.BoolVar(&f.all, n, false, "every job of the state")
		case "grace":
			fs.DurationVar(&f.grace, n, 0, "keep jobs younger than this")
		case "force":
			fs.BoolVar(&f.force, n, false, "do not ask for confirmation")
		case "delayed":
			fs.BoolVar(&f.delayed, n, false, "delete the delayed jobs too")
		case "include-active":
			fs.BoolVar(&f.includeActive, n, false, "obliterate even while jobs are active (their workers will fail to finish them)")
		default:
			panic("zyeute: undeclared queue flag " + n)
		}
	}
}

// usageErr is a bad command line (exit 2). Its message may carry job ids
// and names typed by the user: control characters are escaped.
func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: errors.New(escapeControls("queue " + fmt.Sprintf(format, a...)))}
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
	return runQueue(ctx, e, os.Stdin, args)
}

// runQueue is `zyeute queue` reading confirmations from in.
func runQueue(ctx context.Context, e *env, in io.Reader, args []string) error {
	return runQueueWith(ctx, &queueEnv{e: e, in: in, destroy: destroyerFor}, args)
}

func runQueueWith(ctx context.Context, q *queueEnv, args []string) error {
	e := q.e
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			_, _ = io.WriteString(e.stderr, queueUsage)
			return usageErr("needs a subcommand")
		}
		_, _ = io.WriteString(e.stdout, queueUsage)
		return nil
	}
	name, rest := args[0], args[1:]
	sub, ok := queueSubs[name]
	if !ok {
		_, _ = io.WriteString(e.stderr, queueUsage)
		return usageErr("%s: unknown subcommand", truncateArg(name))
	}
	fs := flag.NewFlagSet("queue "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { _, _ = io.WriteString(e.stderr, queueUsage) }
	f := queueFlags{sub: name}
	defineQueueFlags(fs, &f, sub.flags, name)
	pos, done, err := parseInterspersed(fs, rest)
	if done {
		return err
	}
	if len(pos) < sub.args[0] || len(pos) > sub.args[1] {
		_, _ = io.WriteString(e.stderr, queueUsage)
		return usageErr("%s: wrong number of arguments", name)
	}
	return sub.run(q, ctx, &f, pos)
}

// connect opens Redis for the subcommand, once its arguments are checked.
func (q *queueEnv) connect(ctx context.Context) (func(), error) {
	cfg, err := loadConfig(q.e)
	if err != nil {
		return nil, err
	}
	conn, err := connectRedis(ctx, q.e, "queue", cfg, newLogger(cfg.Log, q.e.stderr), redisNeeds{required: true})
	if err != nil {
		return nil, err
	}
	if st := conn.Check(ctx); st.State != redisconn.Connected {
		conn.Close()
		return nil, &exitError{code: exitFailure, err: fmt.Errorf("queue: Redis unreachable at %s: %s", conn.Target(), st.Message)}
	}
	q.prefix, q.conn, q.c = cfg.QueuePrefix, conn, conn.Client()
	return func() { conn.Close() }, nil
}

// open connects and returns queue name (usage error for a bad name).
func (q *queueEnv) open(ctx context.Context, op, name string) (*queue.Queue, func(), error) {
	closeFn, err := q.connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	qq, err := queue.NewQueue(q.c, name, &queue.QueueOptions{Prefix: q.prefix, MaxDataSize: jobs.MaxPayloadSize,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		closeFn()
		return nil, nil, q.fail(op, name, "", err)
	}
	return qq, closeFn, nil
}

func truncateArg(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// stats prints the named queues' numbers, or every queue's.
func (q *queueEnv) stats(ctx context.Context, f *queueFlags, names []string) error {
	closeFn, err := q.connect(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	if len(names) == 0 {
		if names, err = queue.ListQueues(ctx, q.c, q.prefix); err != nil {
			return q.fail("stats", "", "", err)
		}
	}
	for _, n := range names {
		if _, err := queue.NewQueue(q.c, n, &queue.QueueOptions{Prefix: q.prefix}); err != nil {
			return q.fail("stats", n, "", err)
		}
	}
	snap := &jobs.StatsSnapshot{GeneratedAt: time.Now().UTC(), Prefix: q.prefix, Queues: []jobs.QueueStats{}}
	if len(names) > 0 {
		st, err := jobs.NewStats(q.conn, names, &jobs.StatsConfig{Prefix: q.prefix})
		if err != nil {
			return q.fail("stats", "", "", err)
		}
		if snap, err = st.Refresh(ctx); err != nil {
			return q.fail("stats", "", "", err)
		}
	}
	if f.json {
		return writeJSON(q.e.stdout, snap)
	}
	if len(snap.Queues) == 0 {
		fmt.Fprintf(q.e.stderr, "no queues under the prefix %s yet\n", termSafe(q.prefix))
		return nil
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

// add stores the job; unlike the HTTP API it never runs it here: Redis
// being unreachable is an error.
func (q *queueEnv) add(ctx context.Context, f *queueFlags, pos []string) error {
	name, jobName, data := pos[0], pos[1], json.RawMessage(pos[2])
	reg, err := jobs.NewRegistry(nil)
	if err != nil {
		return err
	}
	spec, err := reg.Spec(name)
	if err != nil {
		return usageErr("add: unknown queue %q (one of %s)", truncateArg(name), strings.Join(reg.Names(), ", "))
	}
	if err := spec.Validate(data); err != nil {
		return usageErr("add: %v", err)
	}
	ao, err := jobs.AddOptionsFor(&jobs.EnqueueOptions{Delay: f.delay, Priority: f.priority, Attempts: f.attempts, JobID: f.jobID})
	if err != nil {
		return usageErr("add: %v", err)
	}
	qq, closeFn, err := q.open(ctx, "add", name)
	if err != nil {
		return err
	}
	defer closeFn()
	job, err := qq.Add(ctx, jobName, data, ao)
	if err != nil {
		return q.fail("add", name, "", err)
	}
	if f.json {
		return writeJSON(q.e.stdout, map[string]string{"id": job.ID, "queue": name, "name": jobName, "mode": string(jobs.ModeQueued)})
	}
	fmt.Fprintf(q.e.stdout, "added %s/%s (name %s)\n", termSafe(name), termSafe(job.ID), termSafe(jobName))
	return nil
}

// pauseResume pauses or resumes a queue that exists: pausing a name with
// no queue behind it (a typo) would create the queue's meta hash.
func (q *queueEnv) pauseResume(ctx context.Context, f *queueFlags, pos []string) error {
	name := pos[0]
	qq, closeFn, err := q.open(ctx, f.sub, name)
	if err != nil {
		return err
	}
	defer closeFn()
	if err := q.mustExist(ctx, f.sub, qq); err != nil {
		return err
	}
	if f.sub == "pause" {
		err = qq.Pause(ctx)
	} else {
		err = qq.Resume(ctx)
	}
	if err != nil {
		return q.fail(f.sub, name, "", err)
	}
	fmt.Fprintf(q.e.stdout, "%s %sd\n", termSafe(name), f.sub)
	return nil
}

// mustExist refuses a queue that does not exist (exit 1).
func (q *queueEnv) mustExist(ctx context.Context, op string, qq *queue.Queue) error {
	ok, err := qq.Exists(ctx)
	if err != nil {
		return q.fail(op, qq.Name(), "", err)
	}
	if !ok {
		return q.failf(op, "no queue %s under the prefix %s (nothing was ever added to it; `zyeute queue stats` lists the queues)",
			termSafe(qq.Name()), termSafe(q.prefix))
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
