package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

var (
	goworkerOnce sync.Once
	goworkerPath string
	goworkerErr  error
)

// goworkerBinary builds interop/cmd/goworker once per test binary.
func goworkerBinary(t testing.TB) string {
	t.Helper()
	goworkerOnce.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			goworkerErr = fmt.Errorf("the go command is not on PATH: %w", err)
			return
		}
		dir, err := os.MkdirTemp("", "interop-goworker-")
		if err != nil {
			goworkerErr = err
			return
		}
		goworkerPath = filepath.Join(dir, "goworker")
		cmd := exec.Command(gobin, "build", "-o", goworkerPath, "./cmd/goworker")
		cmd.Dir = interopDir(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			goworkerErr = &buildError{out: string(out), err: err}
		}
	})
	if goworkerErr != nil {
		t.Fatalf("interop: building cmd/goworker: %v", goworkerErr)
	}
	return goworkerPath
}

type buildError struct {
	out string
	err error
}

func (b *buildError) Error() string { return b.err.Error() + ": " + b.out }

// Checklists 27 and 28: a worker SIGKILLed while holding a job; the other
// side's stalled checker recovers it — re-queued and completed with
// maxStalledCount 1, failed with `defa` (and no processor run) with 0.
func TestInterop27_28_CrashRecovery(t *testing.T) {
	t.Parallel()
	const lockMs, stalledMs = 1000, 300
	for _, dies := range []string{"node", "go"} {
		for _, maxStalled := range []int{1, 0} {
			dies, maxStalled := dies, maxStalled
			t.Run(dies+"-dies-maxStalled"+strconv.Itoa(maxStalled), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				name := e.queueName("")
				j, err := e.goQueue(name).Add(e.ctx, "victim", map[string]any{"return": "recovered"}, &queue.AddOptions{Attempts: 3})
				if err != nil {
					t.Fatal(err)
				}
				// The dying worker takes the job.
				var victim *peer
				if dies == "node" {
					victim = startPeer(e.ctx, t, "hang", e.args(name, map[string]any{"lockDuration": lockMs, "stalledInterval": stalledMs}))
				} else {
					victim = startProc(e.ctx, t, "goworker", goworkerBinary(t), "-addr", e.srv.Addr(), "-queue", name,
						"-mode", "hang", "-lock-duration", "1s", "-stalled-interval", "300ms")
					victim.waitType("ready", 20*time.Second)
				}
				victim.waitFor("victim started", 20*time.Second, func(m msg) bool { return m.Type == "started" && m.ID == j.ID })

				// The survivor runs its stalled checker before the victim dies.
				var goRecd *goRec
				var gw *queue.Worker
				var survivor *peer
				if dies == "node" {
					gw, goRecd = e.goWorker(name, &queue.WorkerOptions{LockDuration: lockMs * time.Millisecond,
						StalledInterval: stalledMs * time.Millisecond, MaxStalledCount: queue.IntPtr(maxStalled)}, nil)
				} else {
					survivor = startPeer(e.ctx, t, "work", e.args(name, map[string]any{"exitAfter": 1,
						"lockDuration": lockMs, "stalledInterval": stalledMs, "maxStalledCount": maxStalled}))
				}
				victim.kill()
				killed := time.Now()
				waitUntil(t, 15*time.Second, "a stalled event", func() (bool, error) {
					for _, x := range e.streamEntries(name) {
						if x.Values["event"] == "stalled" && x.Values["jobId"] == j.ID {
							return true, nil
						}
					}
					return false, nil
				})
				if d := time.Since(killed); d > time.Duration(lockMs+2*stalledMs+1000)*time.Millisecond {
					t.Errorf("recovery took %v, want ≤ lockDuration + 2·stalledInterval (+1 s slack)", d)
				}
				if dies == "node" {
					goRecd.waitFinals(t, 1, 15*time.Second)
					closeWorker(t, gw)
					_, evs, _ := goRecd.snapshot()
					stalled := false
					for _, ev := range evs {
						stalled = stalled || ev.Type == queue.EventStalled && ev.JobID == j.ID
					}
					if !stalled {
						t.Errorf("the Go worker emitted no stalled event for %s", j.ID)
					}
				} else {
					var types []string
					for _, m := range survivor.collect(20*time.Second, "stalled", "started", "completed", "failed") {
						types = append(types, m.Type)
					}
					want := []string{"stalled", "started", "completed"}
					if maxStalled == 0 {
						want = []string{"stalled", "failed"}
					}
					if !reflect.DeepEqual(types, want) {
						t.Errorf("Node survivor lines %v, want %v", types, want)
					}
				}

				h := e.c.HGetAll(e.ctx, e.key(name, j.ID)).Val()
				var seq []string
				for _, x := range e.streamEntries(name) {
					if x.Values["jobId"] == j.ID {
						seq = append(seq, toString(x.Values["event"])+"/"+toString(x.Values["prev"]))
					}
				}
				if maxStalled == 1 {
					if h["stc"] != "1" || h["returnvalue"] != `"recovered"` || h["ats"] != "2" || h["atm"] != "1" {
						t.Errorf("hash after recovery = %v", h)
					}
					want := []string{"added/", "waiting/", "active/waiting", "waiting/active", "stalled/", "active/waiting", "completed/active"}
					if !reflect.DeepEqual(seq, want) {
						t.Errorf("events %v\nwant   %v", seq, want)
					}
				} else {
					if h["failedReason"] != "job stalled more than allowable limit" || h["defa"] != "" || h["ats"] != "2" || h["atm"] != "1" || h["stc"] != "1" {
						t.Errorf("hash after a stall with maxStalledCount 0 = %v", h)
					}
					if st, _ := e.goQueue(name).GetState(e.ctx, j.ID); st != queue.StateFailed {
						t.Errorf("state %s, want failed (no retry despite attempts 3)", st)
					}
					if goRecd != nil {
						if st, _, _ := goRecd.snapshot(); len(st) != 0 {
							t.Errorf("the Go handler ran for a job with defa: %+v", st)
						}
					}
				}
				if pttl := e.c.PTTL(e.ctx, e.key(name, "stalled-check")).Val(); pttl > stalledMs*time.Millisecond {
					t.Errorf("stalled-check PTTL %v > stalledInterval", pttl)
				}
			})
		}
	}
}

// Checklist 35: a global rate limit (meta max 2 / 1 s) set by Go binds Go
// and Node workers together.
func TestInterop35_GlobalRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("")
	q := e.goQueue(name)
	if err := q.SetGlobalRateLimit(e.ctx, 2, time.Second); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var bulk []queue.BulkJob
	for i := 0; i < n; i++ {
		bulk = append(bulk, queue.BulkJob{Name: "r", Data: map[string]any{}})
	}
	if _, err := q.AddBulk(e.ctx, bulk); err != nil {
		t.Fatal(err)
	}
	p := startPeer(e.ctx, t, "work", e.args(name, map[string]any{"concurrency": 2}))
	w, r := e.goWorker(name, &queue.WorkerOptions{Concurrency: 2}, nil)
	waitUntil(t, 30*time.Second, "all rate-limited jobs", func() (bool, error) {
		if pttl := e.c.PTTL(e.ctx, e.key(name, "limiter")).Val(); pttl > time.Second {
			t.Errorf("limiter PTTL %v > 1s", pttl)
		}
		c, err := q.Counts(e.ctx)
		return c.Completed == n, err
	})
	closeWorker(t, w)
	var starts []int64
	for _, m := range p.terminate(10*time.Second, "started") {
		starts = append(starts, m.TS)
	}
	nodeN := len(starts)
	st, _, _ := r.snapshot()
	for _, s := range st {
		starts = append(starts, s.TS.UnixMilli())
	}
	if len(starts) != n {
		t.Fatalf("%d starts, want %d", len(starts), n)
	}
	sortInt64(starts)
	for i := 0; i+2 < len(starts); i++ {
		if d := starts[i+2] - starts[i]; d < 900 {
			t.Errorf("3 jobs started within %d ms (starts %v): the limit of 2 per second was broken", d, starts)
		}
	}
	t.Logf("Node started %d, Go %d", nodeN, n-nodeN)
}

func sortInt64(s []int64) {
	for i := 1; i < len(s); i++ {
		for k := i; k > 0 && s[k] < s[k-1]; k-- {
			s[k], s[k-1] = s[k-1], s[k]
		}
	}
}

// Checklist 36: the events stream stays near opts.maxLenEvents under a Go
// load, and a Node QueueEvents from id 0 accepts every entry Go wrote
// (progress objects decoded, no consumer error).
func TestInterop36_EventsStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("")
	q := e.goQueue(name)
	if err := e.c.HSet(e.ctx, e.key(name, "meta"), "opts.maxLenEvents", 100).Err(); err != nil {
		t.Fatal(err)
	}
	const n = 300
	var bulk []queue.BulkJob
	for i := 0; i < n; i++ {
		d := map[string]any{"progress": map[string]any{"p": 50}, "return": map[string]any{"i": i, "s": "é\"\\/<"}}
		o := &queue.AddOptions{}
		switch i % 5 {
		case 1:
			d = map[string]any{"fail": "bad \"quote\"\nline"}
			o.Attempts = 2
		case 2:
			o.Delay = 20 * time.Millisecond
		case 3:
			o.Priority = 1 + i%3
		}
		bulk = append(bulk, queue.BulkJob{Name: "ev", Data: d, Opts: o})
	}
	if _, err := q.AddBulk(e.ctx, bulk); err != nil {
		t.Fatal(err)
	}
	w, r := e.goWorker(name, &queue.WorkerOptions{Concurrency: 4}, nil)
	r.waitFinals(t, n, 60*time.Second)
	closeWorker(t, w)
	if xl := e.c.XLen(e.ctx, e.key(name, "events")).Val(); xl > 300 {
		t.Errorf("events stream has %d entries with maxLenEvents 100 after ≈%d writes", xl, n*5)
	}
	evs := e.readAllEvents(name)
	progress := 0
	for _, ev := range evs {
		if ev.Event == "progress" {
			if d, ok := ev.Args["data"].(map[string]any); !ok || d["p"] != 50.0 {
				t.Errorf("progress event data %v, want {p:50}", ev.Args["data"])
			}
			progress++
		}
	}
	if progress == 0 {
		t.Error("no progress event left in the stream to check")
	}
	// A Node QueueEvents following the stream live also sees Go's writes.
	// (From the last id read, not "$": QueueEvents may issue its first XREAD
	// after "ready".)
	xs := e.streamEntries(name)
	live := startPeer(e.ctx, t, "events", e.args(name, map[string]any{"lastEventId": xs[len(xs)-1].ID, "untilEvent": "completed"}))
	if _, err := q.Add(e.ctx, "live", map[string]any{"return": []any{1, "x"}}, nil); err != nil {
		t.Fatal(err)
	}
	w2, r2 := e.goWorker(name, nil, nil)
	r2.waitFinals(t, 1, 10*time.Second)
	closeWorker(t, w2)
	var completed []msg
	for _, m := range live.collect(20*time.Second, "event") {
		if m.Event == "completed" {
			completed = append(completed, m)
		}
	}
	if len(completed) != 1 {
		t.Fatalf("live QueueEvents saw %d completed events, want 1", len(completed))
	}
	if rv, _ := completed[0].Args["returnvalue"].([]any); len(rv) != 2 || rv[1] != "x" {
		t.Errorf("live completed event = %v", completed[0].Args)
	}
}
