package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// record is one run: one JSON line of the results file.
type record struct {
	Time        string  `json:"time"`
	Rep         int     `json:"rep"` // 0 for untimed profiling runs
	Impl        string  `json:"impl"`
	Scenario    string  `json:"scenario"`
	Kind        string  `json:"kind"`
	N           int     `json:"n"`
	Concurrency int     `json:"concurrency,omitempty"`
	Remove      bool    `json:"remove,omitempty"`
	ElapsedS    float64 `json:"elapsed_s,omitempty"`
	JobsPerS    float64 `json:"jobs_per_s,omitempty"`
	Added       int     `json:"added,omitempty"`
	Processed   int     `json:"processed,omitempty"`

	Pickup   *percentiles `json:"pickup_ms,omitempty"`
	Complete *percentiles `json:"complete_ms,omitempty"`

	WindowS    float64 `json:"window_s"` // between the two INFO snapshots
	Redis      cost    `json:"redis"`
	CmdsPerJob float64 `json:"cmds_per_job,omitempty"`
	CPUPerJob  float64 `json:"cpu_us_per_job,omitempty"`
	CmdsPerS   float64 `json:"cmds_per_s,omitempty"` // idle
	CPUPerS    float64 `json:"cpu_us_per_s,omitempty"`

	// Cost mode: Redis instructions (callgrind Ir) between "go" and "done".
	Instr       int64   `json:"instructions,omitempty"`
	InstrPerJob float64 `json:"instr_per_job,omitempty"`

	Verified     bool   `json:"verified"`
	VerifyDetail string `json:"verify_detail,omitempty"`
	Error        string `json:"error,omitempty"`
}

func (r record) ok() bool { return r.Error == "" && r.Verified }

// suite is what a finished run hands back (the smoke test reads it).
type suite struct {
	Records []record
	Env     environment
	JSONL   string // results file
	MD      string // Markdown report file
}

func runSuite(ctx context.Context, cfg config, stdout, stderr io.Writer) (*suite, error) {
	if cfg.Cost {
		return runCost(ctx, cfg, stdout, stderr)
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return nil, err
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	srv, err := startRedis(ctx, cfg.RedisServer, nil)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	rc := redis.NewClient(&redis.Options{Addr: srv.addr})
	defer rc.Close()

	env := collectEnvironment(ctx, cfg, rc)
	stamp := time.Now().UTC().Format("20060102T150405Z")
	if cfg.Smoke {
		stamp += "-smoke"
	}
	out := &suite{Env: env, JSONL: filepath.Join(cfg.Out, stamp+".jsonl"), MD: filepath.Join(cfg.Out, stamp+".md")}
	f, err := os.Create(out.JSONL)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	o := &orchestrator{cfg: cfg, exe: exe, addr: srv.addr, rc: rc, stderr: stderr}
	fmt.Fprintf(stderr, "bench: redis-server %s on %s; %d repetition(s) of %d scenario(s) × %v\n",
		env.Redis, srv.addr, cfg.Reps, len(cfg.scenarios()), cfg.Impls)
	emit := func(r record) error {
		b, _ := json.Marshal(r)
		if _, err := f.Write(append(b, '\n')); err != nil {
			return err
		}
		if r.Rep > 0 {
			out.Records = append(out.Records, r)
		}
		fmt.Fprintf(stderr, "bench: %s\n", r.summary())
		return nil
	}
	if slices.ContainsFunc(cfg.scenarios(), func(s scenario) bool { return s.Kind == kindIdle }) {
		// What the idle server does on its own (serverCron, the probe's
		// connection), to read the idle rows against.
		if err := o.baseline(ctx, &out.Env); err != nil {
			return out, err
		}
	}
	for rep := 1; rep <= cfg.Reps; rep++ {
		for _, sc := range cfg.scenarios() {
			for _, impl := range cfg.Impls {
				if err := ctx.Err(); err != nil {
					return out, err
				}
				if err := emit(o.runOne(ctx, rep, impl, sc, profiles{})); err != nil {
					return out, err
				}
			}
		}
	}
	if cfg.ProfileDir != "" && contains(cfg.Impls, implOurs) {
		for _, sc := range allScenarios(cfg) {
			if sc.Name != "process-c1-remove" && sc.Name != "process-c50-remove" && sc.Name != "add-serial" {
				continue
			}
			// CPU and allocations in separate runs: allocation sampling
			// (stack walks) would otherwise show up in the CPU profile.
			base := filepath.Join(cfg.ProfileDir, implOurs+"-"+sc.Name)
			for _, p := range []profiles{{cpu: base + ".cpu.pprof"}, {mem: base + ".allocs.pprof"}} {
				if err := emit(o.runOne(ctx, 0, implOurs, sc, p)); err != nil {
					return out, err
				}
			}
		}
	}
	o.envAfter(ctx, &out.Env)
	if err := writeJSON(out.Env.path(out.JSONL), struct {
		Environment environment `json:"environment"`
		Config      config      `json:"config"`
	}{out.Env, cfg}); err != nil {
		return out, err
	}
	md := renderMarkdown(cfg, out.Env, out.Records)
	if err := os.WriteFile(out.MD, []byte(md), 0o644); err != nil {
		return out, err
	}
	fmt.Fprint(stdout, md)
	fmt.Fprintf(stderr, "bench: results in %s and %s\n", out.JSONL, out.MD)
	return out, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// path of the environment file beside a results file.
func (e environment) path(jsonl string) string {
	return strings.TrimSuffix(jsonl, ".jsonl") + ".env.json"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (r record) summary() string {
	s := fmt.Sprintf("rep %d %-18s %-6s", r.Rep, r.Scenario, r.Impl)
	switch {
	case r.Error != "":
		return s + " ERROR " + r.Error
	case r.Kind == kindIdle:
		s += fmt.Sprintf(" %.2f cmds/s, %.0f µs CPU/s", r.CmdsPerS, r.CPUPerS)
	case r.Kind == kindLatency:
		s += fmt.Sprintf(" pickup p50 %.2f p99 %.2f ms, complete p50 %.2f p99 %.2f ms",
			r.Pickup.P50, r.Pickup.P99, r.Complete.P50, r.Complete.P99)
	default:
		s += fmt.Sprintf(" %8.0f jobs/s, %.1f cmds/job, %.1f µs CPU/job", r.JobsPerS, r.CmdsPerJob, r.CPUPerJob)
	}
	if !r.Verified {
		s += " NOT VERIFIED: " + r.VerifyDetail
	}
	return s
}

func (o *orchestrator) baseline(ctx context.Context, env *environment) error {
	if err := o.rc.FlushAll(ctx).Err(); err != nil {
		return err
	}
	a, err := snapshot(ctx, o.rc)
	if err != nil {
		return err
	}
	if err := sleep(ctx, o.cfg.Idle); err != nil {
		return err
	}
	b, err := snapshot(ctx, o.rc)
	if err != nil {
		return err
	}
	d, win := delta(a, b), b.at.Sub(a.at).Seconds()
	env.IdleBaselineCmdsPerS, env.IdleBaselineCPUPerS = float64(d.Cmds)/win, d.CPUus/win
	return nil
}

// profiles a child writes: the CPU profile of the measured part, or the
// allocation profile (with a base taken at "go").
type profiles struct{ cpu, mem string }

type orchestrator struct {
	cfg    config
	exe    string
	addr   string
	rc     *redis.Client
	stderr io.Writer
	cg     *callgrind // cost mode: zeroed at "go", dumped at "done"
}

// runOne runs one scenario for one implementation in a fresh child process
// on a flushed server. Failures are recorded, not returned: the suite goes
// on with the next run.
func (o *orchestrator) runOne(ctx context.Context, rep int, impl string, sc scenario, prof profiles) record {
	sp := o.cfg.spec(impl, sc, o.addr)
	r := record{Time: time.Now().UTC().Format(time.RFC3339), Rep: rep, Impl: impl, Scenario: sc.Name, Kind: sc.Kind,
		N: sp.N, Concurrency: sc.Concurrency, Remove: sc.Remove}
	sp.CPUProfile, sp.MemProfile = prof.cpu, prof.mem
	if err := o.rc.FlushAll(ctx).Err(); err != nil {
		r.Error = "FLUSHALL: " + err.Error()
		return r
	}
	if err := o.drive(ctx, sp, &r); err != nil {
		r.Error = err.Error()
	}
	return r
}

func (o *orchestrator) command(ctx context.Context, sp spec) (*exec.Cmd, error) {
	b, err := json.Marshal(sp)
	if err != nil {
		return nil, err
	}
	var cmd *exec.Cmd
	if sp.Impl == implBullMQ {
		cmd = exec.CommandContext(ctx, o.cfg.Node, filepath.Join(o.cfg.Dir, "node", "bullmq-child.js"), string(b))
	} else {
		cmd = exec.CommandContext(ctx, o.exe, string(b))
		cmd.Env = append(os.Environ(), childEnv+"=1")
	}
	cmd.WaitDelay = 5 * time.Second
	dieWithParent(cmd)
	return cmd, nil
}

// tailBuffer keeps the last bytes a child wrote to stderr, for errors.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}

func (o *orchestrator) drive(ctx context.Context, sp spec, r *record) (err error) {
	ctx, cancel := context.WithTimeout(ctx, sp.timeout()+10*time.Second)
	defer cancel()
	cmd, err := o.command(ctx, sp)
	if err != nil {
		return err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdoutPipe, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var errTail tailBuffer
	cmd.Stderr = &errTail
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting child: %w", err)
	}
	msgs := make(chan message, 8)
	go func() {
		defer close(msgs)
		sc := bufio.NewScanner(stdoutPipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			var m message
			if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &m) != nil {
				fmt.Fprintf(o.stderr, "bench: %s child: %s\n", sp.Impl, line)
				continue
			}
			msgs <- m
		}
	}()
	defer func() {
		stdin.Close()
		werr := cmd.Wait()
		if err == nil && werr != nil {
			err = fmt.Errorf("child exited: %w", werr)
		}
		if err != nil {
			if t := errTail.String(); t != "" {
				err = fmt.Errorf("%w; child stderr: %s", err, t)
			}
		}
	}()
	send := func(s string) error {
		_, err := io.WriteString(stdin, s+"\n")
		return err
	}
	expect := func(phase string) (message, error) {
		select {
		case m, ok := <-msgs:
			if !ok {
				return m, fmt.Errorf("child closed stdout before %q", phase)
			}
			if m.Phase == "error" {
				return m, errors.New(m.Error)
			}
			if m.Phase != phase {
				return m, fmt.Errorf("child said %q, want %q", m.Phase, phase)
			}
			return m, nil
		case <-ctx.Done():
			return message{}, fmt.Errorf("waiting for %q: %w", phase, ctx.Err())
		}
	}

	if _, err := expect("ready"); err != nil {
		return err
	}
	before, err := snapshot(ctx, o.rc)
	if err != nil {
		return err
	}
	var done message
	if sp.Kind == kindIdle {
		if err := sleep(ctx, o.cfg.Idle); err != nil {
			return err
		}
	} else {
		if o.cg != nil {
			if err := o.cg.zero(ctx); err != nil {
				return err
			}
		}
		if err := send("go"); err != nil {
			return err
		}
		if done, err = expect("done"); err != nil {
			return err
		}
		if o.cg != nil {
			if r.Instr, err = o.cg.dump(ctx); err != nil {
				return err
			}
		}
	}
	after, err := snapshot(ctx, o.rc)
	if err != nil {
		return err
	}
	if err := send("verify"); err != nil {
		return err
	}
	v, err := expect("verified")
	if err != nil {
		return err
	}
	if err := send("exit"); err != nil {
		return err
	}

	r.Verified, r.VerifyDetail = v.OK, v.Detail
	r.WindowS = after.at.Sub(before.at).Seconds()
	r.Redis = delta(before, after)
	r.ElapsedS, r.Added, r.Processed = done.ElapsedS, done.Added, done.Processed
	r.Pickup, r.Complete = done.Pickup, done.Complete
	jobs := float64(sp.N)
	switch sp.Kind {
	case kindIdle:
		r.CmdsPerS = float64(r.Redis.Cmds) / r.WindowS
		r.CPUPerS = r.Redis.CPUus / r.WindowS
	default:
		if done.ElapsedS > 0 {
			r.JobsPerS = jobs / done.ElapsedS
		}
		if jobs > 0 {
			r.CmdsPerJob = float64(r.Redis.Cmds) / jobs
			r.CPUPerJob = r.Redis.CPUus / jobs
			r.InstrPerJob = float64(r.Instr) / jobs
		}
	}
	if sp.Kind == kindProcess || sp.Kind == kindLatency {
		if done.Processed != sp.N {
			r.Verified = false
			r.VerifyDetail = fmt.Sprintf("processed %d of %d; %s", done.Processed, sp.N, r.VerifyDetail)
		}
	}
	return nil
}
