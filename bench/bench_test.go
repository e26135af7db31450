package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The orchestrator starts this test binary again as a child for the Go
	// implementations.
	if os.Getenv(childEnv) == "1" {
		if err := childMain(context.Background(), os.Args[len(os.Args)-1], os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString("bench child: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// TestSmoke runs the whole harness with tiny N and one repetition against a
// private redis-server, ours, Node BullMQ and asynq. It checks correctness
// only (every scenario of every implementation produced a verified result,
// every job was processed), never speed.
func TestSmoke(t *testing.T) {
	cfg, err := parseFlags([]string{"-smoke", "-out", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log strings.Builder
	res, err := runSuite(ctx, cfg, io.Discard, &log)
	if err != nil {
		t.Fatalf("runSuite: %v\n%s", err, log.String())
	}
	got := map[string]record{}
	for _, r := range res.Records {
		got[r.Impl+"/"+r.Scenario] = r
	}
	for _, impl := range cfg.Impls {
		for _, sc := range cfg.scenarios() {
			key := impl + "/" + sc.Name
			r, ok := got[key]
			if !ok {
				t.Errorf("%s: no result", key)
				continue
			}
			if !oursHasWorker && impl == implOurs && sc.Kind != kindAddSerial && sc.Kind != kindAddBulk {
				continue // built with -tags noworker
			}
			if !r.ok() {
				t.Errorf("%s: error %q, verified %v (%s)", key, r.Error, r.Verified, r.VerifyDetail)
				continue
			}
			switch sc.Kind {
			case kindAddSerial, kindAddBulk:
				if r.Added != r.N || r.JobsPerS <= 0 || r.Redis.Cmds <= 0 {
					t.Errorf("%s: added %d of %d, %.0f jobs/s, %d cmds", key, r.Added, r.N, r.JobsPerS, r.Redis.Cmds)
				}
			case kindProcess:
				if r.Processed != r.N || r.N != cfg.N {
					t.Errorf("%s: processed %d of %d", key, r.Processed, r.N)
				}
			case kindLatency:
				if r.Processed != r.N || r.Pickup == nil || r.Pickup.N != r.N || r.Complete == nil || r.Complete.N != r.N {
					t.Errorf("%s: processed %d of %d, pickup %+v, complete %+v", key, r.Processed, r.N, r.Pickup, r.Complete)
				}
			case kindIdle:
				if r.WindowS < cfg.Idle.Seconds() {
					t.Errorf("%s: window %.2fs shorter than %s", key, r.WindowS, cfg.Idle)
				}
			}
		}
	}
	md, err := os.ReadFile(res.MD)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| add, one at a time, awaited |", "ours / BullMQ", res.Env.Redis} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("harness log:\n%s", log.String())
	}
}

// TestCostSmoke runs the cost mode (redis-server under valgrind's
// callgrind) with a few jobs of ours and checks that every run counted a
// positive number of instructions and commands per job. Correctness of the
// instrument only; the counts themselves are recorded in BENCHMARKS.md,
// never asserted.
func TestCostSmoke(t *testing.T) {
	cfg, err := parseFlags([]string{"-cost", "-n", "30", "-impls", "ours",
		"-scenarios", "add-serial,process-c10-remove", "-out", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log, stdout strings.Builder
	res, err := runSuite(ctx, cfg, &stdout, &log)
	if err != nil {
		t.Fatalf("runSuite: %v\n%s", err, log.String())
	}
	if len(res.Records) != 2 {
		t.Fatalf("%d records, want 2\n%s", len(res.Records), log.String())
	}
	for _, r := range res.Records {
		if !oursHasWorker && r.Kind == kindProcess {
			continue // built with -tags noworker
		}
		if !r.ok() || r.Instr <= 0 || r.InstrPerJob <= 0 || r.CmdsPerJob <= 0 {
			t.Errorf("%s: error %q, verified %v (%s), %d instructions, %.1f per job, %.2f cmds per job",
				r.Scenario, r.Error, r.Verified, r.VerifyDetail, r.Instr, r.InstrPerJob, r.CmdsPerJob)
		}
	}
	if !strings.Contains(stdout.String(), "| add, one at a time |") {
		t.Errorf("no cost table on stdout:\n%s", stdout.String())
	}
	if t.Failed() {
		t.Logf("harness log:\n%s", log.String())
	}
}
