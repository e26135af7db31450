package main

import (
	"io"
	"math"
	"strings"
	"testing"
)

func TestNearestRank(t *testing.T) {
	t.Parallel()
	s := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct{ p, want float64 }{{50, 5}, {90, 9}, {99, 10}, {100, 10}, {1, 1}} {
		if got := nearestRank(s, c.p); got != c.want {
			t.Errorf("p%.0f = %v, want %v", c.p, got, c.want)
		}
	}
	if nearestRank(nil, 50) != 0 {
		t.Error("empty sample must give 0")
	}
	p := summarize([]float64{3, 1, 2})
	if p.N != 3 || p.P50 != 2 || p.Max != 3 {
		t.Errorf("summarize = %+v", p)
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	if m := median([]float64{5, 1, 3}); m != 3 {
		t.Errorf("odd median = %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("even median = %v", m)
	}
	if !math.IsNaN(median(nil)) {
		t.Error("empty median must be NaN")
	}
}

func TestInfoDelta(t *testing.T) {
	t.Parallel()
	a := parseInfo("# Stats\r\ntotal_commands_processed:10\r\n# CPU\r\nused_cpu_sys:1.000000\r\nused_cpu_user:2.000000\r\n" +
		"# Commandstats\r\ncmdstat_info:calls=3,usec=9,usec_per_call=3.00\r\ncmdstat_evalsha:calls=2,usec=1\r\ncmdstat_lpush:calls=1,usec=1\r\n")
	b := parseInfo("# Stats\r\ntotal_commands_processed:30\r\n# CPU\r\nused_cpu_sys:1.000100\r\nused_cpu_user:2.000050\r\n" +
		"# Commandstats\r\ncmdstat_info:calls=4,usec=9\r\ncmdstat_evalsha:calls=7,usec=1\r\ncmdstat_lpush:calls=6,usec=1\r\ncmdstat_client|setinfo:calls=2,usec=1\r\n")
	d := delta(a, b)
	if d.Cmds != 5+5+2 || d.ScriptCalls != 5 || d.Calls["info"] != 0 || d.Calls["client|setinfo"] != 2 {
		t.Errorf("delta = %+v", d)
	}
	if math.Abs(d.CPUus-150) > 0.01 {
		t.Errorf("cpu = %v µs, want 150", d.CPUus)
	}
}

func TestAsynqCompletedID(t *testing.T) {
	t.Parallel()
	done := []any{"evalsha", "abc", 5, "asynq:{default}:active", "asynq:{default}:lease", "asynq:{default}:t:id-1",
		"asynq:{default}:processed:2026-01-01", "asynq:{default}:processed", "id-1", 1, 2}
	mark := []any{"evalsha", "abc", 6, "asynq:{default}:active", "asynq:{default}:lease", "asynq:{default}:completed",
		"asynq:{default}:t:id-2", "asynq:{default}:processed:2026-01-01", "asynq:{default}:processed", "id-2"}
	dequeue := []any{"evalsha", "abc", 4, "asynq:{default}:pending", "asynq:{default}:paused", "asynq:{default}:active",
		"asynq:{default}:lease", "x"}
	if id, ok := asynqCompletedID(done); !ok || id != "id-1" {
		t.Errorf("done: %q %v", id, ok)
	}
	if id, ok := asynqCompletedID(mark); !ok || id != "id-2" {
		t.Errorf("markAsComplete: %q %v", id, ok)
	}
	if _, ok := asynqCompletedID(dequeue); ok {
		t.Error("dequeue taken for a completion")
	}
	if _, ok := asynqCompletedID([]any{"get", "k"}); ok {
		t.Error("GET taken for a completion")
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	c, err := parseFlags([]string{"-smoke", "-n", "300", "-dir", "."}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Smoke || c.N != 300 || c.LatencyN != 200 || c.Reps != 1 {
		t.Errorf("smoke with -n 300: %+v", c)
	}
	if _, err := parseFlags([]string{"-impls", "sidekiq", "-dir", "."}, nil); err == nil {
		t.Error("unknown implementation accepted")
	}
	if _, err := parseFlags([]string{"-scenarios", "process-c7-keep", "-dir", "."}, nil); err == nil {
		t.Error("unknown scenario accepted")
	}
	c, err = parseFlags([]string{"-scenarios", "idle,latency", "-dir", "."}, nil)
	if err != nil || len(c.scenarios()) != 2 {
		t.Errorf("scenarios: %v %v", c.scenarios(), err)
	}
}

func TestRenderMarkdown(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	recs := []record{
		{Impl: implOurs, Scenario: "add-serial", JobsPerS: 30000, Verified: true},
		{Impl: implOurs, Scenario: "add-serial", JobsPerS: 20000, Verified: true},
		{Impl: implOurs, Scenario: "add-serial", JobsPerS: 25000, Verified: true},
		{Impl: implBullMQ, Scenario: "add-serial", JobsPerS: 10000, Verified: true},
		{Impl: implAsynq, Scenario: "add-serial", JobsPerS: 99999, Error: "boom"},
	}
	md := renderMarkdown(cfg, environment{}, recs)
	if !strings.Contains(md, "| add, one at a time, awaited | jobs/s | higher | 25000 (20000–30000) | 10000 | – | 2.50 | – |") {
		t.Errorf("row not rendered as expected:\n%s", md)
	}
	if !strings.Contains(md, "add-serial, asynq: boom") {
		t.Errorf("failed run not listed:\n%s", md)
	}
}

func TestParseSummary(t *testing.T) {
	t.Parallel()
	n, err := parseSummary("version: 1\ncreator: callgrind-3.19.0\nevents: Ir\n\nsummary: 1524468\n\ntotals: 1524468\n", "x")
	if err != nil || n != 1524468 {
		t.Errorf("parseSummary = %d, %v", n, err)
	}
	if _, err := parseSummary("events: Ir\n", "x"); err == nil {
		t.Error("a file without summary must be an error")
	}
}

func TestCostFlags(t *testing.T) {
	t.Parallel()
	c, err := parseFlags([]string{"-cost", "-dir", "."}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Cost || c.N != 1000 || c.Reps != 1 || strings.Join(c.Scenarios, ",") != strings.Join(costScenarios, ",") {
		t.Errorf("cost defaults: %+v", c)
	}
	if _, err := parseFlags([]string{"-cost", "-dir", ".", "-scenarios", "idle"}, io.Discard); err == nil {
		t.Error("-cost with the idle scenario must be refused")
	}
}
