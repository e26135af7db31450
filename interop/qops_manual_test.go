package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// startQops runs interop/peer/qops.js (manual processing and rate-limit
// scenarios) and waits for its ready line.
func startQops(t *testing.T, e *env, scenario string, args map[string]any) *peer {
	t.Helper()
	node := nodeBinary(t)
	a, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	p := startProc(e.ctx, t, scenario, node, filepath.Join(interopDir(t), "peer", "qops.js"), scenario, string(a))
	p.waitType("ready", 30*time.Second)
	return p
}

var msRe = regexp.MustCompile(`\b1\d{12}\b`)

// maskRun hides what differs between two runs of the same operations on
// a dumpQueue result: millisecond times, stack frames (Go's and Node's
// differ; the number of entries is kept), and the order of zset members
// whose scores are times (ties within a millisecond).
func maskRun(t *testing.T, keys map[string]string, events []string) string {
	t.Helper()
	out := map[string]string{}
	for k, v := range keys {
		switch {
		case strings.HasPrefix(v, "hash "):
			var h map[string]string
			if err := json.Unmarshal([]byte(v[5:]), &h); err != nil {
				t.Fatal(err)
			}
			if st, ok := h["stacktrace"]; ok {
				var frames []string
				_ = json.Unmarshal([]byte(st), &frames)
				h["stacktrace"] = fmt.Sprintf("%d entries", len(frames))
			}
			v = "hash " + mustJSON(t, h)
		case strings.HasPrefix(v, "zset "):
			var z []struct {
				Score  float64
				Member string
			}
			if err := json.Unmarshal([]byte(v[5:]), &z); err != nil {
				t.Fatal(err)
			}
			sort.Slice(z, func(i, j int) bool { return z[i].Member < z[j].Member })
			v = "zset " + mustJSON(t, z)
		}
		out[k] = v
	}
	return msRe.ReplaceAllString(mustJSON(t, []any{out, events}), "T")
}

type manualStep struct {
	Token  string `json:"token"`
	Action string `json:"action"`
	Value  any    `json:"value,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// TestInteropManualProcessingLikeNode: a Go worker without a handler
// (GetNextJob, Job.MoveToCompleted, Job.MoveToFailed) and a Node worker
// without a processor (getNextJob, moveToCompleted, moveToFailed) run the
// same steps on twin queues of Node-added jobs: completion with a value, a
// failure retried (attempts 2: back to wait, atm 1), a final failure
// (retries-exhausted), the retried job's final failure, then no job. The
// keys and events left are the same (times and stack frames masked). The
// lock token is checked (wrong token: ErrLockMismatch, nothing changes),
// ExtendLock renews the lock and refuses a wrong token.
func TestInteropManualProcessingLikeNode(t *testing.T) {
	e := newEnv(t)
	goQ, nodeQ := e.queueName("man-g"), e.queueName("man-n")
	jobs := []nodeJobSpec{{Name: "a", Data: map[string]any{}}, {Name: "b", Data: map[string]any{}, Opts: map[string]any{"attempts": 2}},
		{Name: "c", Data: map[string]any{}}}
	e.nodeAdd(goQ, jobs)
	e.nodeAdd(nodeQ, jobs)
	steps := []manualStep{{"t1", "complete", map[string]any{"ok": 1}, ""}, {"t2", "fail", nil, "boom"},
		{"t3", "fail", nil, "bad"}, {"t4", "fail", nil, "again"}, {"t5", "none", nil, ""}}
	p := startQops(t, e, "manual", e.args(nodeQ, map[string]any{"steps": steps}))
	var nodeIDs []string
	for _, m := range p.collect(60*time.Second, "fetched") {
		nodeIDs = append(nodeIDs, m.ID)
	}

	w, err := queue.NewWorker(e.c, goQ, nil, &queue.WorkerOptions{Prefix: e.prefix})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(e.ctx); !errors.Is(err, queue.ErrNoHandler) {
		t.Errorf("Start of a worker without handler: %v", err)
	}
	var goIDs []string
	for i, s := range steps {
		j, err := w.GetNextJob(e.ctx, s.Token)
		if err != nil {
			t.Fatal(err)
		}
		if j == nil {
			goIDs = append(goIDs, "")
			continue
		}
		goIDs = append(goIDs, j.ID)
		if i == 0 {
			// lock discipline before finishing
			if err := j.MoveToCompleted(e.ctx, 1, "wrong"); !errors.Is(err, queue.ErrLockMismatch) {
				t.Errorf("complete with a wrong token: %v", err)
			}
			if err := j.ExtendLock(e.ctx, "wrong", time.Minute); !errors.Is(err, queue.ErrLockMissing) {
				t.Errorf("extend with a wrong token: %v", err)
			}
			if err := j.ExtendLock(e.ctx, s.Token, 5*time.Minute); err != nil {
				t.Error(err)
			}
			if ttl := e.c.PTTL(e.ctx, e.key(goQ, j.ID+":lock")).Val(); ttl < 2*time.Minute {
				t.Errorf("lock TTL after ExtendLock(5m) = %s", ttl)
			}
		}
		switch s.Action {
		case "complete":
			err = j.MoveToCompleted(e.ctx, s.Value, s.Token)
		case "fail":
			err = j.MoveToFailed(e.ctx, errors.New(s.Reason), s.Token)
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if mustJSON(t, nodeIDs) != `["1","2","3","2",""]` || mustJSON(t, goIDs) != `["1","2","3","2",""]` {
		t.Errorf("fetched: go %q, node %q", goIDs, nodeIDs)
	}
	gk, ge := dumpQueue(t, e, goQ)
	nk, ne := dumpQueue(t, e, nodeQ)
	g, n := maskRun(t, gk, ge), maskRun(t, nk, ne)
	if g != n {
		t.Errorf("state after manual processing differs:\n go:   %s\n node: %s", g, n)
	}
	// What Node wrote, in part: the retry and the exhausted retries.
	for _, want := range []string{`event=waiting jobId=2 prev=active`, `attemptsMade=2 event=retries-exhausted jobId=2`,
		`event=completed jobId=1 prev=active returnvalue={"ok":1}`} {
		if !slices.Contains(ne, want) {
			t.Errorf("node events lack %s: %q", want, ne)
		}
	}
}

// TestInteropRateLimitErrorLikeNode: a Go handler that calls
// Worker.RateLimit(5s) and returns RateLimitError, and a Node processor
// that calls worker.rateLimit(5000) and throws Worker.RateLimitError(),
// leave the same state on twin queues (job back in wait with no attempt
// counted, `waiting` prev=active, limiter = MAX_SAFE_INTEGER), and each
// worker runs the job again only after the limit (≥ 4 s later), still
// with attemptsMade 0.
func TestInteropRateLimitErrorLikeNode(t *testing.T) {
	e := newEnv(t)
	goQ, nodeQ := e.queueName("rl-g"), e.queueName("rl-n")
	spec := []nodeJobSpec{{Name: "r", Data: map[string]any{"rateLimitMs": 5000}}}
	e.nodeAdd(goQ, spec)
	e.nodeAdd(nodeQ, spec)

	backInWait := func(name string) {
		waitUntil(t, 20*time.Second, name+" job back in wait", func() (bool, error) {
			n, err := e.c.LLen(e.ctx, e.key(name, "wait")).Result()
			return n == 1, err
		})
	}
	p := startQops(t, e, "ratelimit", e.args(nodeQ, nil))
	lim := p.waitType("limited", 30*time.Second)
	backInWait(nodeQ)
	nk, ne := dumpQueue(t, e, nodeQ)
	again := p.waitType("started", 30*time.Second)
	if again.TS-lim.TS < 4000 {
		t.Errorf("node ran the job again %d ms after the rate limit of 5000 ms", again.TS-lim.TS)
	}

	var mu sync.Mutex
	var starts []time.Time
	var atms []int
	limited := make(chan time.Time, 1)
	var w *queue.Worker
	w, err := queue.NewWorker(e.c, goQ, func(ctx context.Context, j *queue.Job) (any, error) {
		mu.Lock()
		starts = append(starts, time.Now())
		atms = append(atms, j.AttemptsMade)
		first := len(starts) == 1
		mu.Unlock()
		if first {
			if err := w.RateLimit(ctx, 5*time.Second); err != nil {
				return nil, err
			}
			limited <- time.Now()
			return nil, queue.RateLimitError()
		}
		return "ok", nil
	}, &queue.WorkerOptions{Prefix: e.prefix, DrainDelay: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	var limitedAt time.Time
	select {
	case limitedAt = <-limited:
	case <-time.After(30 * time.Second):
		t.Fatal("Go handler never ran")
	}
	backInWait(goQ)
	gk, ge := dumpQueue(t, e, goQ)
	g, n := maskRun(t, gk, ge), maskRun(t, nk, ne)
	if g != n {
		t.Errorf("state after RateLimitError differs:\n go:   %s\n node: %s", g, n)
	}
	if gk["limiter"] != `string "9007199254740991"` {
		t.Errorf("limiter = %s", gk["limiter"])
	}
	waitUntil(t, 30*time.Second, "Go job completed", func() (bool, error) {
		st, err := e.goQueue(goQ).GetState(e.ctx, "1")
		return st == queue.StateCompleted, err
	})
	mu.Lock()
	defer mu.Unlock()
	if len(starts) != 2 || starts[1].Sub(limitedAt) < 4000*time.Millisecond || atms[1] != 0 {
		t.Errorf("Go runs at %v (limited at %v), attemptsMade %v", starts, limitedAt, atms)
	}
}

// TestInteropManualRateLimitHonoured: a limit set by Node's
// queue.rateLimit(3000) holds back a Go worker that has a limiter, and a
// limit set by Go's Queue.RateLimit(3s) holds back a Node worker that has
// one: neither starts a ready job before the limit (≥ 2.5 s).
func TestInteropManualRateLimitHonoured(t *testing.T) {
	e := newEnv(t)
	// Node sets, Go obeys.
	q1 := e.queueName("rlh-go")
	nodeAdmin(t, e, q1, op("rateLimit", 3000))
	set1 := time.Now()
	if _, err := e.goQueue(q1).Add(e.ctx, "x", nil, nil); err != nil {
		t.Fatal(err)
	}
	started := make(chan time.Time, 1)
	w, err := queue.NewWorker(e.c, q1, func(ctx context.Context, j *queue.Job) (any, error) {
		select {
		case started <- time.Now():
		default:
		}
		return nil, nil
	}, &queue.WorkerOptions{Prefix: e.prefix, Limiter: &queue.RateLimiter{Max: 100, Duration: time.Second}, DrainDelay: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	select {
	case at := <-started:
		if at.Sub(set1) < 2500*time.Millisecond {
			t.Errorf("Go worker started a job %s after Node's 3 s rate limit", at.Sub(set1))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Go worker never started the job")
	}

	// Go sets, Node obeys.
	q2 := e.queueName("rlh-node")
	if err := e.goQueue(q2).RateLimit(e.ctx, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	set2 := time.Now()
	if v := e.c.Get(e.ctx, e.key(q2, "limiter")).Val(); v != "9007199254740991" {
		t.Errorf("Go limiter value %q", v)
	}
	if _, err := e.goQueue(q2).Add(e.ctx, "x", nil, nil); err != nil {
		t.Fatal(err)
	}
	p := startQops(t, e, "ratelimit", e.args(q2, map[string]any{"limiter": map[string]any{"max": 100, "duration": 1000}}))
	m := p.waitType("started", 30*time.Second)
	if d := time.UnixMilli(m.TS).Sub(set2); d < 2500*time.Millisecond {
		t.Errorf("Node worker started a job %s after Go's 3 s rate limit", d)
	}
	if err := e.goQueue(q2).RateLimit(e.ctx, 0); err == nil {
		t.Error("RateLimit(0) accepted")
	}
}
