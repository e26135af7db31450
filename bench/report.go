package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// row is one line of the report: a metric of one scenario.
type row struct {
	label    string
	scenario string
	unit     string
	better   string // "higher" or "lower"
	format   string // for the value
	metric   func(r record) (float64, bool)
}

func jobsPerS(r record) (float64, bool)   { return r.JobsPerS, r.JobsPerS > 0 }
func cmdsPerJob(r record) (float64, bool) { return r.CmdsPerJob, r.CmdsPerJob > 0 }
func cpuPerJob(r record) (float64, bool)  { return r.CPUPerJob, r.CPUPerJob > 0 }

func latencyMetric(pick func(r record) *percentiles, f func(p *percentiles) float64) func(record) (float64, bool) {
	return func(r record) (float64, bool) {
		p := pick(r)
		if p == nil || p.N == 0 {
			return 0, false
		}
		return f(p), true
	}
}

func reportRows() []row {
	rows := []row{
		{"add, one at a time, awaited", "add-serial", "jobs/s", "higher", "%.0f", jobsPerS},
		{"add, bulk (chunks of 1,000; asynq 50 goroutines)", "add-bulk", "jobs/s", "higher", "%.0f", jobsPerS},
	}
	for _, c := range []int{1, 10, 50} {
		rows = append(rows,
			row{fmt.Sprintf("process, c=%d, completed removed", c), fmt.Sprintf("process-c%d-remove", c), "jobs/s", "higher", "%.0f", jobsPerS},
			row{fmt.Sprintf("process, c=%d, completed kept", c), fmt.Sprintf("process-c%d-keep", c), "jobs/s", "higher", "%.0f", jobsPerS})
	}
	pick := map[string]func(r record) *percentiles{
		"pickup (add → handler start)": func(r record) *percentiles { return r.Pickup },
		"completion (add → completed)": func(r record) *percentiles { return r.Complete },
	}
	for _, name := range []string{"pickup (add → handler start)", "completion (add → completed)"} {
		for _, q := range []struct {
			n string
			f func(p *percentiles) float64
		}{
			{"p50", func(p *percentiles) float64 { return p.P50 }},
			{"p90", func(p *percentiles) float64 { return p.P90 }},
			{"p99", func(p *percentiles) float64 { return p.P99 }},
			{"max", func(p *percentiles) float64 { return p.Max }},
		} {
			rows = append(rows, row{name + " " + q.n, "latency", "ms", "lower", "%.2f", latencyMetric(pick[name], q.f)})
		}
	}
	rows = append(rows,
		row{"idle worker: Redis commands", "idle", "cmds/s", "lower", "%.2f", func(r record) (float64, bool) { return r.CmdsPerS, true }},
		row{"idle worker: Redis CPU", "idle", "µs/s", "lower", "%.0f", func(r record) (float64, bool) { return r.CPUPerS, true }},
		row{"Redis commands per added job (one at a time)", "add-serial", "cmds", "lower", "%.2f", cmdsPerJob},
		row{"Redis CPU per added job (one at a time)", "add-serial", "µs", "lower", "%.1f", cpuPerJob},
		row{"Redis commands per added job (bulk)", "add-bulk", "cmds", "lower", "%.2f", cmdsPerJob},
		row{"Redis CPU per added job (bulk)", "add-bulk", "µs", "lower", "%.1f", cpuPerJob},
		row{"Redis commands per processed job (c=10, removed)", "process-c10-remove", "cmds", "lower", "%.2f", cmdsPerJob},
		row{"Redis CPU per processed job (c=10, removed)", "process-c10-remove", "µs", "lower", "%.1f", cpuPerJob},
		row{"Redis commands per processed job (c=10, kept)", "process-c10-keep", "cmds", "lower", "%.2f", cmdsPerJob},
		row{"Redis CPU per processed job (c=10, kept)", "process-c10-keep", "µs", "lower", "%.1f", cpuPerJob},
	)
	return rows
}

// cell is the median and range of one metric over the good runs.
type cell struct {
	med, lo, hi float64
	n           int
}

func aggregate(recs []record, impl, scenario string, metric func(record) (float64, bool)) cell {
	var v []float64
	for _, r := range recs {
		if r.Impl != impl || r.Scenario != scenario || !r.ok() {
			continue
		}
		if x, ok := metric(r); ok {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return cell{med: math.NaN()}
	}
	return cell{med: median(v), lo: slices.Min(v), hi: slices.Max(v), n: len(v)}
}

func (c cell) format(f string) string {
	if c.n == 0 {
		return "–"
	}
	if c.n == 1 || c.lo == c.hi {
		return fmt.Sprintf(f, c.med)
	}
	return fmt.Sprintf(f+" (%s–%s)", c.med, fmt.Sprintf(f, c.lo), fmt.Sprintf(f, c.hi))
}

func ratio(a, b cell) string {
	if a.n == 0 || b.n == 0 || b.med == 0 {
		return "–"
	}
	r := a.med / b.med
	if r < 0.1 {
		return fmt.Sprintf("%.2g", r)
	}
	return fmt.Sprintf("%.2f", r)
}

// renderMarkdown is the report: the environment, the table of medians with
// min–max and the ratios, and every failed run.
func renderMarkdown(cfg config, env environment, recs []record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Results\n\n")
	fmt.Fprintf(&b, "Taken %s → %s on %s (%d CPUs; memory: %s); load average (1, 5, 15 min) %s before, %s after.\n",
		env.Started, env.Finished, orDash(env.CPUModel), env.NumCPU, orDash(env.Memory), orDash(env.LoadBefore), orDash(env.LoadAfter))
	fmt.Fprintf(&b, "Versions: ours %s (Go %s, go-redis %s), Node %s with bullmq %s and ioredis %s, asynq %s, redis-server %s.\n",
		orDash(env.OursVersion), env.Go, orDash(env.GoRedis), orDash(env.Node), orDash(env.BullMQ), orDash(env.IORedis), orDash(env.Asynq), orDash(env.Redis))
	fmt.Fprintf(&b, "%d repetition(s), interleaved; N = %d jobs per add/process run, %d jobs at %.0f jobs/s (c=%d) per latency run, idle window %s. ",
		cfg.Reps, cfg.N, cfg.LatencyN, cfg.Rate, cfg.LatencyConc, cfg.Idle)
	fmt.Fprintf(&b, "Cells: median (min–max). Ratios: median of ours / median of the other.\n")
	fmt.Fprintf(&b, "The server alone (no client but the probe) did %.2f commands/s and used %.0f µs CPU/s over the idle window: read the idle rows against that.\n\n",
		env.IdleBaselineCmdsPerS, env.IdleBaselineCPUPerS)

	has := map[string]bool{}
	for _, i := range cfg.Impls {
		has[i] = true
	}
	fmt.Fprintf(&b, "| scenario | unit | better | ours | BullMQ 6.7.0 | asynq | ours / BullMQ | ours / asynq |\n")
	fmt.Fprintf(&b, "|---|---|---|--:|--:|--:|--:|--:|\n")
	for _, r := range reportRows() {
		if len(cfg.Scenarios) > 0 && !slices.Contains(cfg.Scenarios, r.scenario) {
			continue
		}
		o := aggregate(recs, implOurs, r.scenario, r.metric)
		q := aggregate(recs, implBullMQ, r.scenario, r.metric)
		a := aggregate(recs, implAsynq, r.scenario, r.metric)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.label, r.unit, r.better,
			o.format(r.format), q.format(r.format), a.format(r.format), ratio(o, q), ratio(o, a))
	}

	var bad []record
	for _, r := range recs {
		if !r.ok() {
			bad = append(bad, r)
		}
	}
	if len(bad) > 0 {
		fmt.Fprintf(&b, "\nRuns left out of the table (failed or not verified):\n\n")
		for _, r := range bad {
			why := r.Error
			if why == "" {
				why = "not verified: " + r.VerifyDetail
			}
			fmt.Fprintf(&b, "- rep %d, %s, %s: %s\n", r.Rep, r.Scenario, r.Impl, oneLine(why, 300))
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
