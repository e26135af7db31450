package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// follow starts `zyeute queue events args…` and returns its stdout, a
// stop function (the Ctrl-C of main: the context ends) and the exit code
// channel.
func (fx *queueFixture) follow(args ...string) (*syncBuffer, *syncBuffer, context.CancelFunc, <-chan int) {
	out, errOut := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(fx.ctx)
	code := make(chan int, 1)
	go func() {
		err := run(ctx, append([]string{"queue", "events"}, args...), func(k string) string { return fx.vars[k] }, out, errOut)
		code <- exitCode(err)
	}()
	return out, errOut, cancel, code
}

func waitOutput(t *testing.T, b *syncBuffer, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(b.String(), what) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the output after 30s:\n%s", what, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestQueueEventsFollow: `queue events` prints events appended while it
// runs, one line each, and ends with exit 0 when interrupted; --from 0
// replays the stream first; --json prints one object a line.
func TestQueueEventsFollow(t *testing.T) {
	t.Parallel()
	fx := newQueueFixture(t)
	q := fx.queue("reports")
	old, err := q.Add(fx.ctx, "before", nil, &queue.AddOptions{JobID: "old-1"})
	if err != nil {
		t.Fatal(err)
	}

	out, errOut, stop, code := fx.follow("reports")
	waitOutput(t, errOut, "following the events of reports")
	if _, err := q.Add(fx.ctx, "live\x1b[2J", nil, &queue.AddOptions{JobID: "new-1"}); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, "job=new-1")
	stop()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("events exited %d after the interrupt", c)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("events did not stop after the interrupt")
	}
	got := out.String()
	if strings.Contains(got, "old-1") || !strings.Contains(got, `added`) || !strings.Contains(got, `name="live\x1b[2J"`) ||
		strings.Contains(got, "\x1b") {
		t.Fatalf("events from $:\n%s", got)
	}

	out, _, stop, code = fx.follow("reports", "--from", "0", "--json")
	waitOutput(t, out, `"new-1"`)
	stop()
	<-code
	var first eventLine
	line, _, _ := strings.Cut(out.String(), "\n")
	if err := json.Unmarshal([]byte(line), &first); err != nil || first.Event != "added" || first.Args["jobId"] != old.ID ||
		first.ID == "" || first.Time.IsZero() {
		t.Fatalf("first event of --from 0 --json: %s (%v)", line, err)
	}

	// Resuming after an event id skips it.
	out, _, stop, code = fx.follow("reports", "--from", first.ID)
	waitOutput(t, out, "job=new-1")
	stop()
	<-code
	if strings.Contains(out.String(), "job=old-1 ") {
		t.Fatalf("--from %s repeated the event:\n%s", first.ID, out.String())
	}

	fx.cli(exitUsage, "events", "reports", "--from", "yesterday")
	fx.cli(exitUsage, "events")
}
