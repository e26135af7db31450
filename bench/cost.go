package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// costScenarios are the rows of the cost table (-cost), in order.
var costScenarios = []string{"process-c10-remove", "process-c10-keep", "add-serial", "add-bulk"}

// callgrind drives the valgrind instance the cost mode runs redis-server
// under: zero its counters, dump them and read the total.
type callgrind struct {
	pid int
	dir string // where the dumps land (--callgrind-out-file=<dir>/cg.out.%p)
}

// control runs callgrind_control (which talks to valgrind through vgdb) and
// returns its output.
func (c *callgrind) control(ctx context.Context, flag string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "callgrind_control", flag, strconv.Itoa(c.pid)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("callgrind_control %s %d: %w: %s", flag, c.pid, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (c *callgrind) zero(ctx context.Context) error { return c.control(ctx, "-z") }

// dump writes the counters since the last zero to a new file and returns
// its total of instructions (the "summary:" line).
func (c *callgrind) dump(ctx context.Context) (int64, error) {
	before := c.lastDump()
	if err := c.control(ctx, "-d"); err != nil {
		return 0, err
	}
	n := c.lastDump()
	if n <= before {
		return 0, fmt.Errorf("callgrind wrote no new dump in %s", c.dir)
	}
	return readSummary(filepath.Join(c.dir, fmt.Sprintf("cg.out.%d.%d", c.pid, n)))
}

// lastDump is the number of the newest dump file (cg.out.PID.N), 0 if none.
func (c *callgrind) lastDump() int {
	matches, _ := filepath.Glob(filepath.Join(c.dir, fmt.Sprintf("cg.out.%d.*", c.pid)))
	last := 0
	for _, m := range matches {
		i := strings.LastIndexByte(m, '.')
		if n, err := strconv.Atoi(m[i+1:]); err == nil && n > last {
			last = n
		}
	}
	return last
}

// readSummary reads the instruction total of a callgrind dump.
func readSummary(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parseSummary(string(b), path)
}

func parseSummary(txt, name string) (int64, error) {
	for _, line := range strings.Split(txt, "\n") {
		for _, key := range []string{"summary:", "totals:"} {
			if v, ok := strings.CutPrefix(line, key); ok {
				f := strings.Fields(v)
				if len(f) == 0 {
					continue
				}
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("%s: no summary line (not a callgrind dump?)", name)
}

// runCost runs every (scenario, implementation) once against a redis-server
// under callgrind and prints Redis's instructions and commands per job.
func runCost(ctx context.Context, cfg config, stdout, stderr io.Writer) (*suite, error) {
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath(cfg.Valgrind); err != nil {
		return nil, fmt.Errorf("%s not found (install: apt-get install -y valgrind): %w", cfg.Valgrind, err)
	}
	if _, err := exec.LookPath("callgrind_control"); err != nil {
		return nil, fmt.Errorf("callgrind_control not found (install: apt-get install -y valgrind): %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir := cfg.CostDumps
	if dir == "" {
		if dir, err = os.MkdirTemp("", "zyeute-bench-callgrind-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	} else if dir, err = filepath.Abs(dir); err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return nil, err
	}
	// Under valgrind the server runs ~50× slower, which would add work that
	// depends on wall time, not on the jobs: slow-log entries for every
	// script call (> 10 ms), and serverCron's memory statistics every
	// 100 ms. Both are switched off or thinned (hz 1) so that the count is
	// the jobs' work and repeats whatever the machine's load.
	srv, err := startRedis(ctx, cfg.RedisServer,
		[]string{cfg.Valgrind, "--tool=callgrind", "--dump-instr=no",
			"--callgrind-out-file=" + filepath.Join(dir, "cg.out.%p"), "--log-file=" + filepath.Join(dir, "valgrind.log")},
		"--slowlog-log-slower-than", "-1", "--hz", "1")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	rc := redis.NewClient(&redis.Options{Addr: srv.addr, ReadTimeout: time.Minute})
	defer rc.Close()

	env := collectEnvironment(ctx, cfg, rc)
	stamp := time.Now().UTC().Format("20060102T150405Z") + "-cost"
	out := &suite{Env: env, JSONL: filepath.Join(cfg.Out, stamp+".jsonl"), MD: filepath.Join(cfg.Out, stamp+".md")}
	f, err := os.Create(out.JSONL)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	o := &orchestrator{cfg: cfg, exe: exe, addr: srv.addr, rc: rc, stderr: stderr,
		cg: &callgrind{pid: srv.cmd.Process.Pid, dir: dir}}
	fmt.Fprintf(stderr, "bench: cost mode, redis-server %s under callgrind on %s; N=%d, %v × %v\n",
		env.Redis, srv.addr, cfg.N, cfg.Scenarios, cfg.Impls)
	for rep := 1; rep <= cfg.Reps; rep++ {
		for _, sc := range cfg.scenarios() {
			for _, impl := range cfg.Impls {
				if err := ctx.Err(); err != nil {
					return out, err
				}
				r := o.runOne(ctx, rep, impl, sc, profiles{})
				b, _ := json.Marshal(r)
				if _, err := f.Write(append(b, '\n')); err != nil {
					return out, err
				}
				out.Records = append(out.Records, r)
				fmt.Fprintf(stderr, "bench: %s\n", r.costSummary())
				if cfg.CostDumps != "" && r.Instr > 0 {
					fmt.Fprintf(stderr, "bench: dump %s\n", filepath.Join(dir, fmt.Sprintf("cg.out.%d.%d", o.cg.pid, o.cg.lastDump())))
				}
			}
		}
	}
	md := renderCost(cfg, out.Env, out.Records)
	if err := os.WriteFile(out.MD, []byte(md), 0o644); err != nil {
		return out, err
	}
	fmt.Fprint(stdout, md)
	fmt.Fprintf(stderr, "bench: results in %s and %s\n", out.JSONL, out.MD)
	return out, nil
}

func (r record) costSummary() string {
	s := fmt.Sprintf("rep %d %-18s %-6s", r.Rep, r.Scenario, r.Impl)
	if r.Error != "" {
		return s + " ERROR " + r.Error
	}
	s += fmt.Sprintf(" %.0f instructions/job, %.2f cmds/job, %d script calls", r.InstrPerJob, r.CmdsPerJob, r.Redis.ScriptCalls)
	if !r.Verified {
		s += " NOT VERIFIED: " + r.VerifyDetail
	}
	return s
}

var costLabels = map[string]string{
	"process-c10-remove": "process, c=10, completed removed",
	"process-c10-keep":   "process, c=10, completed kept",
	"add-serial":         "add, one at a time",
	"add-bulk":           "add, bulk",
}

// renderCost is the cost table: one row per scenario, one column per
// implementation, "instructions per job (commands per job)"; the median
// when there are several repetitions.
func renderCost(cfg config, env environment, recs []record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Redis instructions per job (callgrind, redis-server %s), N = %d jobs per run, %d repetition(s); in brackets Redis commands per job (those run by scripts included).\n\n",
		env.Redis, cfg.N, cfg.Reps)
	b.WriteString("| Redis instructions per job |")
	for _, impl := range cfg.Impls {
		b.WriteString(" " + implTitle(impl) + " |")
	}
	b.WriteString("\n|---|")
	for range cfg.Impls {
		b.WriteString("--:|")
	}
	b.WriteString("\n")
	for _, sc := range cfg.scenarios() {
		label := costLabels[sc.Name]
		if label == "" {
			label = sc.Name
		}
		fmt.Fprintf(&b, "| %s |", label)
		for _, impl := range cfg.Impls {
			var instr, cmds []float64
			for _, r := range recs {
				if r.Impl == impl && r.Scenario == sc.Name && r.ok() && r.Instr > 0 {
					instr = append(instr, r.InstrPerJob)
					cmds = append(cmds, r.CmdsPerJob)
				}
			}
			if len(instr) == 0 {
				b.WriteString(" — |")
				continue
			}
			fmt.Fprintf(&b, " %.1fk (%.2f) |", median(instr)/1000, median(cmds))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func implTitle(impl string) string {
	switch impl {
	case implBullMQ:
		return "BullMQ 6.7.0"
	case implAsynq:
		return "asynq"
	}
	return impl
}
