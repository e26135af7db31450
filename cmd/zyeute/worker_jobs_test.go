package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

func TestWorkerCommand(t *testing.T) {
	t.Parallel()
	const pw = "worker-Secret-9q"
	r := redistest.Start(t, &redistest.Options{Password: pw})
	prefix := redistest.KeyPrefix(t)
	vars := map[string]string{"REDIS_URL": "redis://:" + pw + "@" + r.Addr(), "QUEUE_PREFIX": prefix, "WORKER_CONCURRENCY": "3"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"worker", "--queues", "privacy-audit"}, func(k string) string { return vars[k] }, &bytes.Buffer{}, stderr)
	}()
	c := r.Client(t)
	q, _ := queue.NewQueue(c, jobs.PrivacyAudit, &queue.QueueOptions{Prefix: prefix})
	other, _ := queue.NewQueue(c, jobs.Analytics, &queue.QueueOptions{Prefix: prefix})
	j, err := q.Add(ctx, "audit", map[string]string{"request_id": "r1", "user_id": "u1", "kind": "access"}, jobs.DefaultAddOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Add(ctx, "batch", map[string]any{"events": []any{}}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, _ := q.GetState(ctx, j.ID)
		if st == queue.StateCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job not completed (%s)\n%s", st, stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	done2, _ := q.GetJob(ctx, j.ID)
	if !strings.HasPrefix(done2.ProcessedBy, "zyeute-") || !strings.Contains(string(done2.ReturnValue), `"respond_by"`) {
		t.Errorf("job = %+v", done2)
	}
	// Only the queues asked for are served.
	if n, _ := other.Counts(ctx); n.Waiting != 1 {
		t.Errorf("analytics counts = %+v", n)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("worker returned %v\n%s", err, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not stop")
	}
	logs := stderr.String()
	for _, want := range []string{"worker running", "queues=privacy-audit", "concurrency=3", "stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, pw) {
		t.Error("the password is in the logs")
	}
}

func TestWorkerCommandErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		msg  string
	}{
		{"not configured", []string{"worker"}, nil, exitNotConfigured, "Redis is not configured"},
		{"unknown queue", []string{"worker", "--queues", "analytics,transcode"}, map[string]string{"REDIS_HOST": "127.0.0.1"}, exitUsage, `unknown queue "transcode"`},
		{"bad concurrency", []string{"worker", "--concurrency", "0"}, map[string]string{"REDIS_HOST": "127.0.0.1", "WORKER_CONCURRENCY": "0"}, exitUsage, "WORKER_CONCURRENCY"},
		{"bad flag concurrency", []string{"worker", "--concurrency", "5000"}, nil, exitUsage, "between 1 and 1000"},
		{"extra arg", []string{"worker", "now"}, nil, exitUsage, "unexpected argument"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, &out, &errOut)
			if exitCode(err) != tt.code || !strings.Contains(errorMessage(err), tt.msg) {
				t.Errorf("exit %d %q, want %d containing %q", exitCode(err), errorMessage(err), tt.code, tt.msg)
			}
		})
	}
}
