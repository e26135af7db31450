package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/internal/testlog"
	"github.com/zyeute/zyeute-redis/queue"
)

// installHint is the exact command that installs the Node peer's packages.
const installHint = "cd interop && npm ci"

// interopDir is the directory of this package (where package.json and
// node_modules live).
func interopDir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("interop: cannot locate the source directory")
	}
	return filepath.Dir(file)
}

// nodeBinary finds node and checks that bullmq is installed; it fails the
// test (never skips) with the install command otherwise.
func nodeBinary(t testing.TB) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("interop: node not found in PATH; install Node.js 20 and run: %s", installHint)
	}
	pj := filepath.Join(interopDir(t), "node_modules", "bullmq", "package.json")
	b, err := os.ReadFile(pj)
	if err != nil {
		t.Fatalf("interop: %s missing; run: %s", pj, installHint)
	}
	var v struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Version != "6.7.0" {
		t.Fatalf("interop: node_modules/bullmq is version %q, want 6.7.0; run: %s", v.Version, installHint)
	}
	return node
}

// msg is one JSON line printed by the peer. The common fields are decoded;
// Raw holds the whole line.
type msg struct {
	Type     string          `json:"type"`
	ID       string          `json:"id"`
	Index    int             `json:"index"`
	Name     string          `json:"name"`
	Message  string          `json:"message"`
	Reason   string          `json:"reason"`
	Final    bool            `json:"final"`
	Result   json.RawMessage `json:"result"`
	TS       int64           `json:"ts"`
	Event    string          `json:"event"`
	StreamID string          `json:"streamId"`
	Args     map[string]any  `json:"args"`
	State    string          `json:"state"`
	Job      *nodeJob        `json:"job"`
	Children []string        `json:"children"`
	Raw      json.RawMessage `json:"-"`
}

// nodeJob is the peer's view of a Node Job (inspect scenario).
type nodeJob struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Data            json.RawMessage `json:"data"`
	Opts            map[string]any  `json:"opts"`
	Timestamp       int64           `json:"timestamp"`
	Delay           int64           `json:"delay"`
	Priority        int             `json:"priority"`
	Progress        json.RawMessage `json:"progress"`
	AttemptsMade    int             `json:"attemptsMade"`
	AttemptsStarted int             `json:"attemptsStarted"`
	StalledCounter  int             `json:"stalledCounter"`
	ProcessedOn     int64           `json:"processedOn"`
	FinishedOn      int64           `json:"finishedOn"`
	ReturnValue     json.RawMessage `json:"returnvalue"`
	FailedReason    string          `json:"failedReason"`
	Stacktrace      []string        `json:"stacktrace"`
	DeferredFailure string          `json:"deferredFailure"`
	ProcessedBy     string          `json:"processedBy"`
}

// peer is one running `node peer.js` process.
type peer struct {
	t        testing.TB
	scenario string
	cmd      *exec.Cmd
	lines    chan msg
	stderr   *lockedBuffer
	exited   chan struct{}
	exitErr  error

	mu  sync.Mutex
	all []msg
}

// lockedBuffer collects a peer's stderr.
type lockedBuffer = testlog.Buffer

// startPeer runs `node peer.js scenario args` and waits for its "ready" line.
// The process is killed (SIGKILL) at cleanup if still running, and it dies
// with ctx.
func startPeer(ctx context.Context, t testing.TB, scenario string, args map[string]any) *peer {
	t.Helper()
	p := startPeerNoWait(ctx, t, scenario, args)
	p.waitType("ready", 30*time.Second)
	return p
}

func startPeerNoWait(ctx context.Context, t testing.TB, scenario string, args map[string]any) *peer {
	t.Helper()
	node := nodeBinary(t)
	a, err := json.Marshal(args)
	if err != nil {
		t.Fatalf("interop: encoding peer args: %v", err)
	}
	arg := string(a)
	if len(a) > 32<<10 { // beyond comfortable argv sizes: pass a file
		f := filepath.Join(t.TempDir(), "args.json")
		if err := os.WriteFile(f, a, 0o600); err != nil {
			t.Fatal(err)
		}
		arg = "@" + f
	}
	return startProc(ctx, t, scenario, node, filepath.Join(interopDir(t), "peer", "peer.js"), scenario, arg)
}

// startProc runs any program that speaks the peer's JSON-lines protocol
// (the Node peer, cmd/goworker) and reads its stdout into the peer's channel.
func startProc(ctx context.Context, t testing.TB, scenario string, bin string, argv ...string) *peer {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Dir = interopDir(t)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	p := &peer{t: t, scenario: scenario, cmd: cmd, lines: make(chan msg, 100000), stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("interop: peer stdout: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("interop: starting peer %s: %v", scenario, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			line := append([]byte(nil), sc.Bytes()...)
			var m msg
			if err := json.Unmarshal(line, &m); err != nil {
				m = msg{Type: "unparsed", Message: string(line)}
			}
			m.Raw = line
			p.mu.Lock()
			p.all = append(p.all, m)
			p.mu.Unlock()
			p.lines <- m
		}
		p.exitErr = cmd.Wait()
		close(p.lines)
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("peer %s stderr:\n%s", scenario, tail(p.stderr.String(), 4000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// waitFor reads lines until pred accepts one, within timeout.
func (p *peer) waitFor(what string, timeout time.Duration, pred func(msg) bool) msg {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			p.t.Fatalf("peer %s: timed out after %s waiting for %s", p.scenario, timeout, what)
		}
		select {
		case m, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("peer %s exited (%v) before %s; stderr: %s", p.scenario, p.exitErr, what, tail(p.stderr.String(), 2000))
			}
			if m.Type == "error" {
				p.t.Fatalf("peer %s reported an error while waiting for %s: %s", p.scenario, what, m.Message)
			}
			if pred(m) {
				return m
			}
		case <-time.After(left):
			p.t.Fatalf("peer %s: timed out after %s waiting for %s", p.scenario, timeout, what)
		}
	}
}

func (p *peer) waitType(typ string, timeout time.Duration) msg {
	p.t.Helper()
	return p.waitFor(`"`+typ+`" line`, timeout, func(m msg) bool { return m.Type == typ })
}

// collect reads every line until the "done" line and the exit, and returns
// the lines of the given types (all lines when none given). It fails when
// the peer exits non-zero.
func (p *peer) collect(timeout time.Duration, types ...string) []msg {
	p.t.Helper()
	var out []msg
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			p.t.Fatalf("peer %s: not done after %s", p.scenario, timeout)
		}
		select {
		case m, ok := <-p.lines:
			if !ok {
				if p.exitErr != nil {
					p.t.Fatalf("peer %s exited with %v; stderr: %s", p.scenario, p.exitErr, tail(p.stderr.String(), 2000))
				}
				return out
			}
			if m.Type == "error" {
				p.t.Fatalf("peer %s reported an error: %s", p.scenario, m.Message)
			}
			if len(types) == 0 || contains(types, m.Type) {
				out = append(out, m)
			}
		case <-time.After(left):
			p.t.Fatalf("peer %s: not done after %s", p.scenario, timeout)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// terminate sends SIGTERM (graceful close in the peer) and collects the rest.
func (p *peer) terminate(timeout time.Duration, types ...string) []msg {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	return p.collect(timeout, types...)
}

// kill sends SIGKILL and waits for the process to be reaped. Safe twice.
func (p *peer) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	// Drain so the reader goroutine can reach Wait.
	for {
		select {
		case <-p.exited:
			return
		case _, ok := <-p.lines:
			if !ok {
				<-p.exited
				return
			}
		case <-time.After(10 * time.Second):
			return
		}
	}
}

// env is one test's Redis server, client and context.
type env struct {
	t      *testing.T
	ctx    context.Context
	srv    *redistest.Server
	c      *redis.Client
	prefix string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	nodeBinary(t)
	srv := redistest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return &env{t: t, ctx: ctx, srv: srv, c: srv.Client(t), prefix: queue.DefaultPrefix}
}

// queueName returns a fresh queue name unique to the test.
func (e *env) queueName(suffix string) string {
	return redistest.KeyPrefix(e.t) + suffix
}

// args returns the peer's connection arguments for queue name plus extra.
func (e *env) args(name string, extra map[string]any) map[string]any {
	a := map[string]any{"host": "127.0.0.1", "port": e.srv.Port(), "queue": name, "prefix": e.prefix}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

// goQueue is a Go producer for name with the env's prefix.
func (e *env) goQueue(name string) *queue.Queue {
	e.t.Helper()
	q, err := queue.NewQueue(e.c, name, &queue.QueueOptions{Prefix: e.prefix})
	if err != nil {
		e.t.Fatal(err)
	}
	return q
}

// key is the full Redis key of queue name's suffix.
func (e *env) key(name, suffix string) string { return e.prefix + ":" + name + ":" + suffix }

// nodeAdd adds jobs through a Node Queue and returns the ids in order
// ("" for a rejected add).
func (e *env) nodeAdd(name string, jobs []nodeJobSpec) []string {
	e.t.Helper()
	p := startPeer(e.ctx, e.t, "add", e.args(name, map[string]any{"jobs": jobs}))
	ids := make([]string, len(jobs))
	for _, m := range p.collect(30*time.Second, "added") {
		ids[m.Index] = m.ID
	}
	return ids
}

// nodeJobSpec is one Node add: {name, data, opts}.
type nodeJobSpec struct {
	Name string         `json:"name"`
	Data any            `json:"data"`
	Opts map[string]any `json:"opts,omitempty"`
}

// nodeInspect returns the Node view of ids and the queue summary.
func (e *env) nodeInspect(name string, ids []string, extra map[string]any) (map[string]msg, nodeQueue) {
	e.t.Helper()
	a := e.args(name, extra)
	a["ids"] = ids
	p := startPeer(e.ctx, e.t, "inspect", a)
	jobs := map[string]msg{}
	var q nodeQueue
	for _, m := range p.collect(30*time.Second, "job", "queue") {
		switch m.Type {
		case "job":
			jobs[m.ID] = m
		case "queue":
			if err := json.Unmarshal(m.Raw, &q); err != nil {
				e.t.Fatalf("decoding queue line: %v", err)
			}
		}
	}
	return jobs, q
}

type nodeQueue struct {
	Counts  map[string]int64 `json:"counts"`
	Workers []struct {
		Name    string `json:"name"`
		RawName string `json:"rawname"`
	} `json:"workers"`
	Meta    map[string]any `json:"meta"`
	Paused  bool           `json:"paused"`
	Version string         `json:"version"`
}

// streamEntries reads the whole events stream of queue name.
func (e *env) streamEntries(name string) []redis.XMessage {
	e.t.Helper()
	xs, err := e.c.XRange(e.ctx, e.key(name, "events"), "-", "+").Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return xs
}

// waitUntil polls cond every 20 ms until true or the deadline.
func waitUntil(t testing.TB, d time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jsonEqual compares two JSON texts as decoded values.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
