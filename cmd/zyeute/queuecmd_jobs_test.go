package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

// queueFixture is a real Redis, the CLI's environment for it and a client
// to seed and check queues with.
type queueFixture struct {
	t      *testing.T
	r      *redistest.Server
	prefix string
	vars   map[string]string
	ctx    context.Context
}

func newQueueFixture(t *testing.T) *queueFixture {
	t.Helper()
	r := redistest.Start(t, nil)
	prefix := redistest.KeyPrefix(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return &queueFixture{t: t, r: r, prefix: prefix, vars: map[string]string{"REDIS_URL": r.URL(), "QUEUE_PREFIX": prefix}, ctx: ctx}
}

func (fx *queueFixture) queue(name string) *queue.Queue {
	fx.t.Helper()
	q, err := queue.NewQueue(fx.r.Client(fx.t), name, &queue.QueueOptions{Prefix: fx.prefix})
	if err != nil {
		fx.t.Fatal(err)
	}
	return q
}

// cli runs `zyeute queue args…` and checks the exit code; it returns
// stdout and stderr (with the error message).
func (fx *queueFixture) cli(want int, args ...string) (string, string) {
	fx.t.Helper()
	code, out, errOut := queueCLI(fx.t, fx.vars, args...)
	if code != want {
		fx.t.Fatalf("queue %q: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, want, out, errOut)
	}
	return out, errOut
}

// failJob runs a real worker on name until job id has failed once (with a
// stack trace), then closes it.
func (fx *queueFixture) failJob(name string, n int) {
	fx.t.Helper()
	q := fx.queue(name)
	w, err := queue.NewWorker(fx.r.Client(fx.t), name, func(ctx context.Context, j *queue.Job) (any, error) {
		_ = j.Log(ctx, "starting "+j.ID)
		_ = j.UpdateProgress(ctx, map[string]int{"percent": 40})
		return nil, errors.New("warehouse busy")
	}, &queue.WorkerOptions{Prefix: fx.prefix, DrainDelay: 200 * time.Millisecond})
	if err != nil {
		fx.t.Fatal(err)
	}
	if err := w.Start(fx.ctx); err != nil {
		fx.t.Fatal(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Close(cctx)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := q.GetJobCounts(fx.ctx, queue.StateFailed)
		if err == nil && c[queue.StateFailed] == int64(n) {
			return
		}
		if time.Now().After(deadline) {
			fx.t.Fatalf("%d jobs never failed (%v, %v)", n, c, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestQueueJobsPaging: `queue jobs` pages through a state and says where
// the next page starts; --json carries the total.
func TestQueueJobsPaging(t *testing.T) {
	t.Parallel()
	fx := newQueueFixture(t)
	q := fx.queue("reports")
	for i := 1; i <= 5; i++ {
		if _, err := q.Add(fx.ctx, fmt.Sprintf("r%d", i), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut := fx.cli(0, "jobs", "reports", "waiting", "--limit", "2")
	if !strings.Contains(out, "r1") || !strings.Contains(out, "r2") || strings.Contains(out, "r3") ||
		!strings.Contains(errOut, "waiting jobs 1-2 of 5 (next page: --offset 2)") {
		t.Fatalf("page 1:\n%s%s", out, errOut)
	}
	out, errOut = fx.cli(0, "jobs", "reports", "wait", "--offset", "4", "--limit", "2")
	if !strings.Contains(out, "r5") || strings.Contains(out, "r4") || !strings.Contains(errOut, "waiting jobs 5-5 of 5") ||
		strings.Contains(errOut, "next page") {
		t.Fatalf("last page:\n%s%s", out, errOut)
	}
	// `list` is the same command.
	out, _ = fx.cli(0, "list", "reports", "waiting", "--json", "--offset", "1", "--limit", "3")
	var page jobPage
	if err := json.Unmarshal([]byte(out), &page); err != nil || page.Total != 5 || len(page.Jobs) != 3 || page.Jobs[0].Name != "r2" {
		t.Fatalf("list --json: %s (%v)", out, err)
	}
	fx.cli(exitUsage, "jobs", "reports", "waiting", "--limit", "1001")
	fx.cli(exitUsage, "jobs", "reports", "waiting", "--offset", "-1")
	if _, e := fx.cli(exitUsage, "jobs", "reports", "done"); !strings.Contains(e, `queue jobs: unknown state "done"`) {
		t.Fatalf("unknown state: %s", e)
	}
	if _, e := fx.cli(exitUsage, "jobs", "bad:name", "waiting"); !strings.HasSuffix(e, `queue jobs: queue name "bad:name" must not contain ':'`) {
		t.Fatalf("bad name: %s", e)
	}
}

// TestQueueJobDetailAndLogs: `queue job` shows what a worker left on a
// failed job (failure, stack trace, progress, logs, timestamps), `queue
// logs` pages its log lines, and both refuse a job that does not exist.
func TestQueueJobDetailAndLogs(t *testing.T) {
	t.Parallel()
	fx := newQueueFixture(t)
	q := fx.queue("reports")
	j, err := q.Add(fx.ctx, "monthly", map[string]string{"month": "2026-10"}, &queue.AddOptions{Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := j.Log(fx.ctx, fmt.Sprintf("before %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	fx.failJob("reports", 1)

	out, _ := fx.cli(0, "job", "reports", j.ID)
	for _, want := range []string{"job reports/" + j.ID, "name:        monthly", "state:       failed", "failure:     warehouse busy",
		"stack[0]:", "warehouse busy", `progress:    {"percent":40}`, `data:        {"month":"2026-10"}`, `"attempts":1`,
		"attempts:    1 made", "logs:        4 of 4", "  before 0", "  starting " + j.ID} {
		if !strings.Contains(out, want) {
			t.Errorf("job output lacks %q:\n%s", want, out)
		}
	}
	out, _ = fx.cli(0, "job", "reports", j.ID, "--json", "--logs", "2")
	var d jobDetail
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if d.State != queue.StateFailed || d.FailedReason != "warehouse busy" || len(d.Stacktrace) != 1 || d.FinishedAt == nil ||
		d.ProcessedAt == nil || d.LogsTotal != 4 || len(d.Logs) != 2 || d.Logs[1] != "starting "+j.ID || !strings.Contains(string(d.Progress), `"percent": 40`) {
		t.Fatalf("job --json: %+v", d)
	}
	if _, e := fx.cli(exitFailure, "job", "reports", "404"); !strings.HasSuffix(e, "queue job: job reports/404 not found") {
		t.Fatalf("missing job: %s", e)
	}

	out, errOut := fx.cli(0, "logs", "reports", j.ID, "--limit", "2")
	if out != "before 0\nbefore 1\n" || !strings.Contains(errOut, "lines 1-2 of 4 (next page: --offset 2)") {
		t.Fatalf("logs page 1: %q %q", out, errOut)
	}
	out, _ = fx.cli(0, "logs", "reports", j.ID, "--offset", "2", "--json")
	var lp logPage
	if err := json.Unmarshal([]byte(out), &lp); err != nil || lp.Total != 4 || len(lp.Logs) != 2 || lp.Logs[1] != "starting "+j.ID {
		t.Fatalf("logs --json: %s (%v)", out, err)
	}
	if _, e := fx.cli(exitFailure, "logs", "reports", "404"); !strings.HasSuffix(e, "queue logs: job reports/404 not found") {
		t.Fatalf("logs of a missing job: %s", e)
	}
}

// TestQueueRetryAndPromoteAll: `retry --all failed` and `promote --all`
// move every job of the state, as Node's retryJobs and promoteJobs; promote
// of a job that is not delayed names the state it found.
func TestQueueRetryAndPromoteAll(t *testing.T) {
	t.Parallel()
	fx := newQueueFixture(t)
	q := fx.queue("reports")
	for i := 0; i < 3; i++ {
		if _, err := q.Add(fx.ctx, "f", nil, &queue.AddOptions{Attempts: 1}); err != nil {
			t.Fatal(err)
		}
	}
	fx.failJob("reports", 3)
	if out, _ := fx.cli(0, "retry", "reports", "--all", "failed"); !strings.Contains(out, "reports: 3 failed job(s) moved to wait") {
		t.Fatalf("retry --all: %s", out)
	}
	c, err := q.GetJobCounts(fx.ctx, queue.StateFailed, queue.StateWaiting)
	if err != nil || c[queue.StateFailed] != 0 || c[queue.StateWaiting] != 3 {
		t.Fatalf("after retry --all: %v %v", c, err)
	}

	for i := 0; i < 2; i++ {
		if _, err := q.Add(fx.ctx, "d", nil, &queue.AddOptions{Delay: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	if out, _ := fx.cli(0, "promote", "reports", "--all"); !strings.Contains(out, "reports: 2 delayed job(s) moved to wait") {
		t.Fatalf("promote --all: %s", out)
	}
	if c, err := q.GetJobCounts(fx.ctx, queue.StateDelayed, queue.StateWaiting); err != nil || c[queue.StateDelayed] != 0 || c[queue.StateWaiting] != 5 {
		t.Fatalf("after promote --all: %v %v", c, err)
	}

	fx.cli(exitUsage, "retry", "reports")
	fx.cli(exitUsage, "retry", "reports", "--all", "waiting")
	fx.cli(exitUsage, "retry", "reports", "--all", "--reset-attempts")
	fx.cli(exitUsage, "promote", "reports", "1", "--all")
	fx.cli(exitUsage, "remove", "reports", "1", "--all") // not a flag of remove
}

// TestQueuePromoteNamesTheState: the message of a refused promote says
// where the job is, once prefixed.
func TestQueuePromoteNamesTheState(t *testing.T) {
	t.Parallel()
	fx := newQueueFixture(t)
	q := fx.queue("reports")
	j, err := q.Add(fx.ctx, "r", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Completed, as a worker leaves a job (score and fields).
	c := fx.r.Client(t)
	now := time.Now().UnixMilli()
	base := fx.prefix + ":reports:"
	c.LRem(fx.ctx, base+"wait", 0, j.ID)
	c.ZAdd(fx.ctx, base+"completed", redisZ(now, j.ID))
	c.HSet(fx.ctx, base+j.ID, "finishedOn", now, "returnvalue", "null")
	_, e := fx.cli(exitFailure, "promote", "reports", j.ID)
	if want := "queue promote: job reports/" + j.ID + " is completed, not delayed"; !strings.HasSuffix(e, want) {
		t.Fatalf("promote of a completed job: %q, want %q", e, want)
	}
}

// TestQueuePauseUnknownQueue: pausing (resuming) a name with no queue
// behind it says so and creates nothing.
func TestQueuePauseUnknownQueue(t *testing.T) {
	t.Parallel()
	fx := newQueueFixture(t)
	_, e := fx.cli(exitFailure, "pause", "reprots")
	if !strings.Contains(e, "queue pause: no queue reprots under the prefix "+fx.prefix) {
		t.Fatalf("pause of an unknown queue: %s", e)
	}
	fx.cli(exitFailure, "resume", "reprots")
	if n, err := fx.r.Client(t).Exists(fx.ctx, fx.prefix+":reprots:meta").Result(); err != nil || n != 0 {
		t.Fatalf("pause created the queue: %d %v", n, err)
	}
	if _, err := fx.queue("reports").Add(fx.ctx, "r", nil, nil); err != nil {
		t.Fatal(err)
	}
	if out, _ := fx.cli(0, "pause", "reports"); out != "reports paused\n" {
		t.Fatalf("pause: %q", out)
	}
	if ok, err := fx.queue("reports").IsPaused(fx.ctx); !ok || err != nil {
		t.Fatalf("not paused: %v", err)
	}
}

// TestQueueStatsDiscovers: `stats` with no argument lists every queue
// under the prefix, not only the app's; nothing under it is not an error.
func TestQueueStatsDiscovers(t *testing.T) {
	t.Parallel()
	fx := newQueueFixture(t)
	if _, e := fx.cli(0, "stats"); !strings.Contains(e, "no queues under the prefix "+fx.prefix) {
		t.Fatalf("empty prefix: %s", e)
	}
	for _, n := range []string{"reports", "analytics"} {
		if _, err := fx.queue(n).Add(fx.ctx, "x", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := fx.cli(0, "stats", "--json")
	var snap struct {
		Queues []struct {
			Queue  string           `json:"queue"`
			Counts map[string]int64 `json:"counts"`
		} `json:"queues"`
	}
	if err := json.Unmarshal([]byte(out), &snap); err != nil || len(snap.Queues) != 2 || snap.Queues[0].Queue != "analytics" ||
		snap.Queues[1].Queue != "reports" || snap.Queues[1].Counts["waiting"] != 1 {
		t.Fatalf("stats --json: %s (%v)", out, err)
	}
}

// TestWorkerConcurrencyZero: --concurrency 0 is out of range (exit 2), not
// "the default".
func TestWorkerConcurrencyZero(t *testing.T) {
	t.Parallel()
	var out, errOut strings.Builder
	err := run(context.Background(), []string{"worker", "--concurrency", "0"}, func(string) string { return "" }, &out, &errOut)
	if exitCode(err) != exitUsage || !strings.Contains(errorMessage(err), "--concurrency must be between 1 and") {
		t.Fatalf("worker --concurrency 0: exit %d, %v", exitCode(err), err)
	}
}
