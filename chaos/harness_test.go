package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// full selects the full suite (CHAOS_FULL=1, `make chaos`).
var full = os.Getenv("CHAOS_FULL") == "1"

// binPath is the zyeute binary built once by TestMain.
var binPath string

// passThrough are settings other work adds to the binary; when set in the
// test's environment they are handed to every process (a binary that does
// not know them ignores them).
var passThrough = []string{"WORKER_LOCK_DURATION", "WORKER_STALLED_INTERVAL", "SHUTDOWN_DRAIN"}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zyeute-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "zyeute")
	build := exec.Command("go", "build", "-o", binPath, "./cmd/zyeute")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "chaos: go build ./cmd/zyeute: %v\n%s", err, out)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	printTable(os.Stdout)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// ---------------------------------------------------------------- processes

// proc is one zyeute process; its stdout and stderr go to logPath.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error // set before done is closed
}

// logDir keeps the processes' logs: CHAOS_LOG_DIR/<test> when set (kept
// after the run), else a temporary directory.
func logDir(t *testing.T) string {
	if d := os.Getenv("CHAOS_LOG_DIR"); d != "" {
		p := filepath.Join(d, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(p, 0o755); err == nil {
			return p
		}
	}
	return t.TempDir()
}

func envList(vars map[string]string) []string {
	env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME")}
	for _, k := range passThrough {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	for k, v := range vars {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// startProc starts `zyeute args...` with the environment vars (plus PATH,
// HOME and passThrough). It is killed at cleanup if still running.
func startProc(t *testing.T, dir, name string, vars map[string]string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, args...)
	cmd.Env = envList(vars)
	// The scenario's directory is the working directory: the embedded
	// application database (DATA_DIR's default, ./data) is the scenario's
	// own, shared by its serve and worker processes.
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.signal(syscall.SIGKILL)
		p.wait(10 * time.Second)
		if t.Failed() {
			t.Logf("%s log (last lines):\n%s", name, tail(logPath, 15))
		}
	})
	return p
}

func (p *proc) signal(sig syscall.Signal) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(sig)
	}
}

// wait waits up to d for the process to exit; false if it still runs.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

func (p *proc) exitCode() int {
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		return -1
	}
	return 0
}

func (p *proc) logContains(needle string) bool {
	b, _ := os.ReadFile(p.logPath)
	return bytes.Contains(b, []byte(needle))
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePort asks the kernel for a free loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitFor polls cond every 50 ms until it is true or within has passed.
func waitFor(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// service is a running `zyeute serve`.
type service struct {
	*proc
	base string // http://127.0.0.1:port
}

// startServe runs `zyeute serve` on a free loopback port and waits for
// /readyz. vars are added to the defaults below.
func startServe(t *testing.T, dir, name, redisURL string, vars map[string]string) *service {
	t.Helper()
	port := freePort(t)
	env := map[string]string{
		"REDIS_URL": redisURL, "PORT": strconv.Itoa(port), "HOST": "127.0.0.1",
		"LOG_FORMAT": "json", "LOG_LEVEL": "debug", "QUEUE_PREFIX": prefix,
		"ADMIN_TOKEN": "chaos-admin-token-0123456789",
	}
	for k, v := range vars {
		env[k] = v
	}
	p := startProc(t, dir, name, env, "serve")
	s := &service{proc: p, base: "http://127.0.0.1:" + strconv.Itoa(port)}
	ok := waitFor(30*time.Second, func() bool {
		select {
		case <-p.done:
			return true
		default:
		}
		resp, err := http.Get(s.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	select {
	case <-p.done:
		t.Fatalf("%s exited at startup (code %d):\n%s", name, p.exitCode(), tail(p.logPath, 20))
	default:
	}
	if !ok {
		t.Fatalf("%s not ready after 30s:\n%s", name, tail(p.logPath, 20))
	}
	return s
}

// startWorker runs `zyeute worker --queues analytics` and waits for its
// "worker running" line.
func startWorker(t *testing.T, dir, name, redisURL string, concurrency int, vars map[string]string) *proc {
	t.Helper()
	env := map[string]string{"REDIS_URL": redisURL, "LOG_FORMAT": "json", "LOG_LEVEL": "debug", "QUEUE_PREFIX": prefix}
	for k, v := range vars {
		env[k] = v
	}
	p := startProc(t, dir, name, env, "worker", "--queues", queueName, "--concurrency", strconv.Itoa(concurrency))
	if !waitFor(30*time.Second, func() bool { return p.logContains("worker running") }) {
		t.Fatalf("%s did not start:\n%s", name, tail(p.logPath, 20))
	}
	return p
}

// ---------------------------------------------------------------- the ledger

// The suite's key prefix and queue: analytics, whose handler is pure
// computation (no outside effect).
const (
	prefix    = "chaos"
	queueName = "analytics"
)

type run struct {
	at   time.Time
	proc string
}

// ledger counts handler runs and completions per job id from the
// processes' debug log lines, read incrementally.
type ledger struct {
	mu       sync.Mutex
	offsets  map[string]int64
	procs    []*proc
	started  map[string][]run
	complete map[string][]run
}

func newLedger(procs ...*proc) *ledger {
	return &ledger{offsets: map[string]int64{}, procs: procs, started: map[string][]run{}, complete: map[string][]run{}}
}

func (l *ledger) add(p *proc) {
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
}

type logLine struct {
	Time  time.Time `json:"time"`
	Msg   string    `json:"msg"`
	Queue string    `json:"queue"`
	ID    string    `json:"id"`
}

// update reads what the processes logged since the last call.
func (l *ledger) update() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.procs {
		f, err := os.Open(p.logPath)
		if err != nil {
			continue
		}
		off := l.offsets[p.logPath]
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			continue
		}
		r := bufio.NewReaderSize(f, 1<<16)
		for {
			line, err := r.ReadBytes('\n')
			if err != nil { // partial last line: read again next time
				break
			}
			off += int64(len(line))
			if !bytes.Contains(line, []byte("[Jobs] job ")) {
				continue
			}
			var ll logLine
			if json.Unmarshal(line, &ll) != nil || ll.Queue != queueName {
				continue
			}
			switch ll.Msg {
			case "[Jobs] job started":
				l.started[ll.ID] = append(l.started[ll.ID], run{ll.Time, p.name})
			case "[Jobs] job completed":
				l.complete[ll.ID] = append(l.complete[ll.ID], run{ll.Time, p.name})
			}
		}
		l.offsets[p.logPath] = off
		f.Close()
	}
}

// reconcile asks Redis about ids whose completion the ledger has not seen
// (a process killed between Redis recording the completion and the log
// line): each one found in the completed set counts as completed, with
// proc "redis". Call it right after a kill, before newer completions push
// them out of the kept-completed window (1000 per queue).
func (l *ledger) reconcile(rdb *redis.Client, ids []string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	found := 0
	for _, id := range ids {
		if len(l.completions(id)) > 0 {
			continue
		}
		if _, err := rdb.ZScore(ctx, prefix+":"+queueName+":completed", id).Result(); err == nil {
			l.mu.Lock()
			l.complete[id] = append(l.complete[id], run{time.Now(), "redis"})
			l.mu.Unlock()
			found++
		}
	}
	return found
}

// startedNotCompleted lists the jobs started (by proc name, "" for any)
// with no completion seen.
func (l *ledger) startedNotCompleted(procName string) []string {
	l.update()
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for id, rs := range l.started {
		if len(l.complete[id]) > 0 {
			continue
		}
		for _, r := range rs {
			if procName == "" || r.proc == procName {
				ids = append(ids, id)
				break
			}
		}
	}
	return ids
}

func (l *ledger) runs(id string) []run {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.started[id]
}

func (l *ledger) completions(id string) []run {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.complete[id]
}

// ---------------------------------------------------------------- the load

// outcome is one POST /api/jobs/analytics.
type outcome struct {
	id        string
	routed    bool // false: the load balancer model did not send it
	sent      time.Time
	answered  time.Time
	status    int
	mode      string
	duplicate bool
	err       error // transport error (connection refused, reset…)
}

func (o *outcome) accepted() bool {
	return o.routed && o.err == nil && (o.status == http.StatusAccepted || o.status == http.StatusOK)
}

// syncRun: the job ran inline and the answer carries its result.
func (o *outcome) syncRun() bool { return o.accepted() && o.mode == "sync" }

func (o *outcome) latency() time.Duration { return o.answered.Sub(o.sent) }

// load submits n jobs at a steady rate.
type load struct {
	base string // serve's base URL
	tag  string // job id prefix, unique per scenario
	n    int
	rate float64 // jobs per second
	gate func() bool
	// delayEvery > 0 gives every delayEvery-th job opts.delay_ms = delay,
	// so that Redis holds jobs (delayed set) at any moment.
	delayEvery int
	delay      time.Duration
	ctx        context.Context
	outs       []*outcome
	mu         sync.Mutex
	wg         sync.WaitGroup
	start      time.Time
}

var httpClient = &http.Client{
	Timeout: 40 * time.Second, // > AddTimeout (2s) + SyncTimeout (30s)
	Transport: &http.Transport{
		MaxIdleConnsPerHost: 64,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	},
}

func jobID(tag string, i int) string { return fmt.Sprintf("%s-%06d", tag, i) }

// run paces the submissions (bounded by n and by ctx) and waits for every
// answer. At most 128 requests are outstanding.
func (l *load) run() []*outcome {
	if l.ctx == nil {
		l.ctx = context.Background()
	}
	sem := make(chan struct{}, 128)
	interval := time.Duration(float64(time.Second) / l.rate)
	l.start = time.Now()
	l.outs = make([]*outcome, 0, l.n)
	for i := 0; i < l.n; i++ {
		if d := time.Until(l.start.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-time.After(d):
			case <-l.ctx.Done():
			}
		}
		if l.ctx.Err() != nil {
			break
		}
		o := &outcome{id: jobID(l.tag, i), routed: l.gate == nil || l.gate()}
		l.mu.Lock()
		l.outs = append(l.outs, o)
		l.mu.Unlock()
		if !o.routed {
			continue
		}
		sem <- struct{}{}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer func() { <-sem }()
			l.post(o, i)
		}()
	}
	l.wg.Wait()
	return l.outs
}

func (l *load) post(o *outcome, i int) {
	delay := ""
	if l.delayEvery > 0 && i%l.delayEvery == 0 {
		delay = fmt.Sprintf(`,"delay_ms":%d`, l.delay.Milliseconds())
	}
	body := fmt.Sprintf(`{"data":{"events":[{"type":"view","video_id":"v%d","watch_ms":1000}]},"opts":{"job_id":%q%s}}`, i%97, o.id, delay)
	req, _ := http.NewRequest(http.MethodPost, l.base+"/api/jobs/"+queueName, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	o.sent = time.Now()
	resp, err := httpClient.Do(req)
	o.answered = time.Now()
	if err != nil {
		o.err = err
		return
	}
	defer resp.Body.Close()
	o.status = resp.StatusCode
	var r struct {
		Mode      string `json:"mode"`
		Duplicate bool   `json:"duplicate"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r)
	o.mode, o.duplicate = r.Mode, r.Duplicate
}

// ---------------------------------------------------------------- counting

// tally is one row of the table.
type tally struct {
	Fault      string
	Submitted  int // requests sent (routed)
	Accepted   int // answered 200 or 202
	Completed  int // accepted and completed (inline, or by a worker)
	Lost       int // accepted, never completed
	Duplicated int // jobs whose handler ran more than once
	ExtraRuns  int // handler runs beyond the first, over all jobs
	Sync       int // accepted inline (mode sync)
	ConnErrors int // requests answered with a transport error
	Rejected   int // answered with another status
	Recovery   string
	Note       string
	ErrSample  string // the first transport error
}

// count tallies the outcomes against the ledger. lost and dup list the ids.
func count(fault string, outs []*outcome, lg *ledger) (tally, []string, []string) {
	lg.update()
	tl := tally{Fault: fault}
	var lost, dup []string
	for _, o := range outs {
		if !o.routed {
			continue
		}
		tl.Submitted++
		switch {
		case o.err != nil:
			tl.ConnErrors++
			if tl.ErrSample == "" {
				tl.ErrSample = o.err.Error()
			}
		case !o.accepted():
			tl.Rejected++
		}
		runs := len(lg.runs(o.id))
		if o.syncRun() {
			runs++
		}
		if runs > 1 {
			tl.Duplicated++
			tl.ExtraRuns += runs - 1
			dup = append(dup, o.id)
		}
		if !o.accepted() {
			continue
		}
		tl.Accepted++
		if o.syncRun() {
			tl.Sync++
		}
		if o.syncRun() || len(lg.completions(o.id)) > 0 {
			tl.Completed++
		} else {
			tl.Lost++
			lost = append(lost, o.id)
		}
	}
	return tl, lost, dup
}

// waitCompleted waits (bounded) until every accepted job of outs has
// completed, or within has passed.
func waitCompleted(outs []*outcome, lg *ledger, within time.Duration) bool {
	return waitFor(within, func() bool {
		lg.update()
		for _, o := range outs {
			if o.accepted() && !o.syncRun() && len(lg.completions(o.id)) == 0 {
				return false
			}
		}
		return true
	})
}

var (
	rowsMu sync.Mutex
	rows   []tally
)

func record(t *testing.T, tl tally) {
	t.Logf("%s: submitted %d, accepted %d (inline %d), completed %d, lost %d, duplicated %d (+%d runs), conn errors %d %s, rejected %d, recovery %s; %s",
		tl.Fault, tl.Submitted, tl.Accepted, tl.Sync, tl.Completed, tl.Lost, tl.Duplicated, tl.ExtraRuns, tl.ConnErrors, tl.ErrSample, tl.Rejected, tl.Recovery, tl.Note)
	rowsMu.Lock()
	rows = append(rows, tl)
	rowsMu.Unlock()
}

func printTable(w io.Writer) {
	rowsMu.Lock()
	defer rowsMu.Unlock()
	if len(rows) == 0 {
		return
	}
	mode := "short"
	if full {
		mode = "full (CHAOS_FULL=1)"
	}
	fmt.Fprintf(w, "\nchaos suite, %s version\n\n", mode)
	fmt.Fprintln(w, "| fault | submitted | accepted | completed | lost | duplicated | recovery time | notes |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %s | %s |\n", r.Fault, r.Submitted, r.Accepted, r.Completed, r.Lost, r.Duplicated, r.Recovery, r.Note)
	}
	fmt.Fprintln(w)
}

func ms(d time.Duration) string {
	if d < time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
}

// pick returns short or full.
func pick[T any](short, long T) T {
	if full {
		return long
	}
	return short
}
