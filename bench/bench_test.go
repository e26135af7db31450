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
