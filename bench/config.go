package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// config of one suite run. Every field has a flag; see parseFlags.
type config struct {
	N           int           // jobs per add/process run
	LatencyN    int           // jobs per latency run
	Rate        float64       // latency: jobs/s
	LatencyConc int           // latency: worker concurrency
	Reps        int           // repetitions of every (scenario, impl)
	Idle        time.Duration // idle: measuring window
	Settle      time.Duration // idle: wait after the worker started
	Chunk       int           // bulk chunk
	Producers   int           // asynq bulk goroutines
	Impls       []string
	Scenarios   []string // names; empty = all
	Timeout     time.Duration
	Dir         string // the bench directory (node/ and results/ live there)
	Out         string // results directory
	ProfileDir  string // when set, extra untimed profiled runs of ours
	RedisServer string
	Node        string
	Smoke       bool
	Cost        bool   // count Redis instructions per job under callgrind instead of timing
	Valgrind    string // valgrind binary (cost mode)
	CostDumps   string // cost mode: keep callgrind's dumps in this directory
	Queue       string
}

func defaultConfig() config {
	return config{
		N: 20000, LatencyN: 5000, Rate: 500, LatencyConc: 10, Reps: 3,
		Idle: 30 * time.Second, Settle: 2 * time.Second, Chunk: 1000, Producers: 50,
		Impls:   []string{implOurs, implBullMQ, implAsynq},
		Timeout: 3 * time.Minute, RedisServer: "redis-server", Node: "node", Queue: "bench", Valgrind: "valgrind",
	}
}

// smoke shrinks a config to a correctness check of the harness: tiny N, one
// repetition, short idle window.
func (c *config) smoke() {
	c.Smoke = true
	c.N, c.LatencyN, c.Reps = 200, 200, 1
	c.Idle, c.Settle = time.Second, 300*time.Millisecond
	c.Chunk = 50
	c.Timeout = time.Minute
}

// cost sets the defaults of a cost run: instructions are deterministic, so
// one repetition of 1,000 jobs per scenario is enough.
func (c *config) cost() {
	c.Cost = true
	c.N, c.Reps = 1000, 1
	c.Timeout = 5 * time.Minute
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := defaultConfig()
	// -smoke changes the defaults of the other flags, which still win when
	// given explicitly.
	for _, a := range args {
		if a == "-smoke" || a == "--smoke" || a == "-smoke=true" || a == "--smoke=true" {
			c.smoke()
		}
	}
	for _, a := range args {
		if a == "-cost" || a == "--cost" || a == "-cost=true" || a == "--cost=true" {
			c.cost()
		}
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Bool("smoke", false, "tiny N, one repetition, 1 s idle window: proves the harness works (~30 s)")
	fs.Bool("cost", false, "count Redis instructions and commands per job (redis-server under valgrind's callgrind; N=1000, one repetition, the four cost scenarios) and print the cost table")
	fs.StringVar(&c.Valgrind, "valgrind", c.Valgrind, "valgrind binary (-cost)")
	fs.StringVar(&c.CostDumps, "cost-dumps", "", "-cost: keep callgrind's dumps (one per run, cg.out.PID.N) in this directory, for callgrind_annotate")
	fs.IntVar(&c.N, "n", c.N, "jobs per add and process run")
	fs.IntVar(&c.LatencyN, "latency-n", c.LatencyN, "jobs per latency run")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "latency: jobs added per second")
	fs.IntVar(&c.LatencyConc, "latency-concurrency", c.LatencyConc, "latency: worker concurrency")
	fs.IntVar(&c.Reps, "reps", c.Reps, "repetitions of every scenario and implementation")
	fs.DurationVar(&c.Idle, "idle", c.Idle, "idle: measuring window")
	fs.DurationVar(&c.Settle, "settle", c.Settle, "idle: wait between worker start and the window")
	fs.IntVar(&c.Chunk, "chunk", c.Chunk, "bulk add chunk size (ours, BullMQ)")
	fs.IntVar(&c.Producers, "producers", c.Producers, "bulk add goroutines (asynq)")
	impls := fs.String("impls", strings.Join(c.Impls, ","), "implementations, in interleaving order")
	scen := fs.String("scenarios", "", "comma-separated scenario names (default all): "+strings.Join(scenarioNames(), ","))
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "limit of one run (child process)")
	fs.StringVar(&c.Dir, "dir", "", "the bench directory (default: . or ./bench, whichever has node/bullmq-child.js)")
	fs.StringVar(&c.Out, "out", "", "results directory (default <dir>/results)")
	fs.StringVar(&c.ProfileDir, "profile", "", "also write CPU and allocation profiles of ours (extra untimed runs) to this directory")
	fs.StringVar(&c.RedisServer, "redis-server", c.RedisServer, "redis-server binary")
	fs.StringVar(&c.Node, "node", c.Node, "node binary")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	c.Impls = splitList(*impls)
	c.Scenarios = splitList(*scen)
	if c.Cost && len(c.Scenarios) == 0 {
		c.Scenarios = costScenarios
	}
	return c, c.validate()
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (c *config) validate() error {
	switch {
	case c.N <= 0 || c.LatencyN <= 0 || c.Reps <= 0 || c.Chunk <= 0 || c.Producers <= 0 || c.LatencyConc <= 0:
		return fmt.Errorf("n, latency-n, reps, chunk, producers and latency-concurrency must be positive")
	case c.Rate <= 0 || c.Rate > 100000:
		return fmt.Errorf("rate must be in (0, 100000]")
	case c.Idle <= 0 || c.Settle < 0 || c.Timeout <= 0:
		return fmt.Errorf("idle and timeout must be positive, settle not negative")
	case len(c.Impls) == 0:
		return fmt.Errorf("no implementation selected")
	}
	for _, i := range c.Impls {
		if !slices.Contains([]string{implOurs, implBullMQ, implAsynq}, i) {
			return fmt.Errorf("unknown implementation %q", i)
		}
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(scenarioNames(), s) {
			return fmt.Errorf("unknown scenario %q", s)
		}
		if c.Cost && (s == "latency" || s == "idle") {
			return fmt.Errorf("-cost counts instructions per job of add and process scenarios, not %q", s)
		}
	}
	if c.Dir == "" {
		for _, d := range []string{".", "bench"} {
			if _, err := os.Stat(filepath.Join(d, "node", "bullmq-child.js")); err == nil {
				c.Dir = d
				break
			}
		}
		if c.Dir == "" {
			return fmt.Errorf("cannot find node/bullmq-child.js: run from the repository root or bench/, or pass -dir")
		}
	}
	if c.Out == "" {
		c.Out = filepath.Join(c.Dir, "results")
	}
	return nil
}

// scenario is one row group of the report.
type scenario struct {
	Name        string
	Kind        string
	Concurrency int
	Remove      bool
}

func allScenarios(c config) []scenario {
	out := []scenario{
		{Name: "add-serial", Kind: kindAddSerial},
		{Name: "add-bulk", Kind: kindAddBulk},
	}
	for _, conc := range []int{1, 10, 50} {
		out = append(out,
			scenario{Name: fmt.Sprintf("process-c%d-remove", conc), Kind: kindProcess, Concurrency: conc, Remove: true},
			scenario{Name: fmt.Sprintf("process-c%d-keep", conc), Kind: kindProcess, Concurrency: conc})
	}
	out = append(out,
		scenario{Name: "latency", Kind: kindLatency, Concurrency: c.LatencyConc, Remove: true},
		scenario{Name: "idle", Kind: kindIdle, Concurrency: 1, Remove: true})
	return out
}

func scenarioNames() []string {
	var out []string
	for _, s := range allScenarios(defaultConfig()) {
		out = append(out, s.Name)
	}
	return out
}

func (c config) scenarios() []scenario {
	all := allScenarios(c)
	if len(c.Scenarios) == 0 {
		return all
	}
	var out []scenario
	for _, s := range all {
		if slices.Contains(c.Scenarios, s.Name) {
			out = append(out, s)
		}
	}
	return out
}

func (c config) spec(impl string, sc scenario, addr string) spec {
	s := spec{Impl: impl, Kind: sc.Kind, Addr: addr, Queue: c.Queue, N: c.N, Concurrency: sc.Concurrency,
		Remove: sc.Remove, TimeoutMs: int(c.Timeout / time.Millisecond), SlowRedis: c.Cost}
	switch sc.Kind {
	case kindAddBulk:
		s.Chunk, s.Producers = c.Chunk, c.Producers
	case kindLatency:
		s.N, s.Rate = c.LatencyN, c.Rate
	case kindIdle:
		s.N, s.SettleMs = 0, int(c.Settle/time.Millisecond)
	}
	return s
}
