package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// recordingDestroyer records the destructive calls the CLI makes (the
// queue package's Clean, Drain and Obliterate are tested there).
type recordingDestroyer struct {
	calls []string
}

func (r *recordingDestroyer) Clean(_ context.Context, grace time.Duration, limit int, state queue.JobState) ([]string, error) {
	r.calls = append(r.calls, fmt.Sprintf("clean %s %d %s", grace, limit, state))
	return []string{"1", "2"}, nil
}

func (r *recordingDestroyer) Drain(_ context.Context, delayed bool) error {
	r.calls = append(r.calls, fmt.Sprintf("drain %t", delayed))
	return nil
}

func (r *recordingDestroyer) Obliterate(_ context.Context, force bool, count int) error {
	r.calls = append(r.calls, fmt.Sprintf("obliterate %t %d", force, count))
	return nil
}

// destroy runs `zyeute queue args…` with answer on stdin and a recording
// destroyer; it returns the exit code, the output and the calls made.
func (fx *queueFixture) destroy(answer string, args ...string) (int, string, []string) {
	var out, errOut bytes.Buffer
	rec := &recordingDestroyer{}
	e := &env{getenv: func(k string) string { return fx.vars[k] }, stdout: &out, stderr: &errOut}
	err := runQueueWith(fx.ctx, &queueEnv{e: e, in: strings.NewReader(answer),
		destroy: func(*queue.Queue) destroyer { return rec }}, args)
	return exitCode(err), out.String() + errOut.String() + errorMessage(err), rec.calls
}

// TestQueueDestructiveConfirmation: clean, drain and obliterate run only
// when the queue's name is typed back (or with --force), pass their flags
// through, and refuse a queue that does not exist.
func TestQueueDestructiveConfirmation(t *testing.T) {
	t.Parallel()
	fx := newQueueFixture(t)
	q := fx.queue("reports")
	for i := 0; i < 3; i++ {
		if _, err := q.Add(fx.ctx, "r", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		answer string
		args   []string
		code   int
		calls  string
		output string
	}{
		// The prompt says what goes and how many jobs there are now.
		{"reports\n", []string{"drain", "reports"}, 0, "drain false", "the waiting and prioritized jobs (3 now)"},
		{"reports", []string{"drain", "reports", "--delayed"}, 0, "drain true", "reports drained"},
		{"report\n", []string{"drain", "reports"}, exitFailure, "", "queue drain: aborted: report is not the queue name"},
		{"", []string{"obliterate", "reports"}, exitFailure, "", "queue obliterate: aborted: no confirmation (pass --force"},
		{"reports\r\n", []string{"obliterate", "reports"}, 0, "obliterate false 0", "the queue and all its jobs (3 now)"},
		{"", []string{"obliterate", "--force", "reports", "--include-active"}, 0, "obliterate true 0", "reports obliterated"},
		{"", []string{"clean", "reports", "completed", "--grace", "1h", "--limit", "50", "--force"}, 0, "clean 1h0m0s 50 completed",
			"reports: 2 completed job(s) deleted"},
		{"", []string{"clean", "reports", "wait", "--force", "--json"}, 0, "clean 0s 0 waiting", `"deleted": [`},
		{"", []string{"clean", "reports", "done", "--force"}, exitUsage, "", `queue clean: unknown state "done"`},
		{"", []string{"clean", "reports", "failed", "--grace", "-1s", "--force"}, exitUsage, "", "must not be negative"},
		{"", []string{"drain", "--force", "nosuch"}, exitFailure, "", "queue drain: no queue nosuch under the prefix"},
		{"", []string{"obliterate", "reports", "--delayed"}, exitUsage, "", "flag provided but not defined: -delayed"},
	} {
		code, out, calls := fx.destroy(tc.answer, tc.args...)
		if code != tc.code || strings.Join(calls, ";") != tc.calls || !strings.Contains(out, tc.output) {
			t.Errorf("%q answering %q: exit %d, calls %q, output:\n%s\nwant exit %d, calls %q, output with %q",
				tc.args, tc.answer, code, calls, out, tc.code, tc.calls, tc.output)
		}
	}
}
