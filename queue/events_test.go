package queue

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func newTestEvents(t *testing.T, b *bundle, last string) *QueueEvents {
	t.Helper()
	qe, err := NewQueueEvents(b.ctx, b.client, b.name, &QueueEventsOptions{LastEventID: last,
		BlockTimeout: 300 * time.Millisecond, RetryDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := qe.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return qe
}

func recvN(t *testing.T, s *Subscription, n int) []Event {
	t.Helper()
	var out []Event
	deadline := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case ev, ok := <-s.C:
			if !ok {
				t.Fatalf("subscription closed after %d of %d events", len(out), n)
			}
			out = append(out, ev)
		case <-deadline:
			t.Fatalf("got %d of %d events: %+v", len(out), n, out)
		}
	}
	return out
}

// A killed connection is replaced and reading resumes after the last
// entry read: nothing lost, nothing repeated.
func TestQueueEventsReconnectKeepsPosition(t *testing.T) {
	t.Parallel()
	b := setup(t)
	qe := newTestEvents(t, b, "$")
	sub, err := qe.Subscribe(100)
	if err != nil {
		t.Fatal(err)
	}
	add := func(name string) {
		if _, err := b.q.Add(b.ctx, name, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	add("a")
	first := recvN(t, sub, 2) // added, waiting
	if first[0].Name != StreamAdded || first[0].JobName != "a" || first[1].Name != StreamWaiting || first[1].JobID != "1" {
		t.Fatalf("first events = %+v", first)
	}
	connName := connectionName(DefaultPrefix, b.name, "") + ":qe"
	killed := 0
	waitFor(t, 5*time.Second, "the events connection in CLIENT LIST", func() bool {
		list := b.client.ClientList(b.ctx).Val()
		for _, line := range strings.Split(list, "\n") {
			if strings.Contains(line, " name="+connName+" ") {
				for _, f := range strings.Fields(line) {
					if id, ok := strings.CutPrefix(f, "id="); ok {
						if err := b.client.Do(b.ctx, "client", "kill", "id", id).Err(); err == nil {
							killed++
						}
					}
				}
			}
		}
		return killed > 0
	})
	add("b")
	add("c")
	rest := recvN(t, sub, 4)
	want := []string{"added:2", "waiting:2", "added:3", "waiting:3"}
	for i, ev := range rest {
		if got := ev.Name + ":" + ev.JobID; got != want[i] {
			t.Fatalf("event %d after the kill = %s, want %s (all: %+v)", i, got, want[i], rest)
		}
	}
	select {
	case ev := <-sub.C:
		t.Fatalf("unexpected extra event %+v", ev)
	case <-time.After(400 * time.Millisecond):
	}
	if qe.LastEventID() != rest[3].StreamID {
		t.Fatalf("LastEventID = %s, want %s", qe.LastEventID(), rest[3].StreamID)
	}
}

// "$" is pinned at NewQueueEvents: an event appended before the first
// Subscribe is still delivered; one appended before NewQueueEvents is not.
func TestQueueEventsDollarPinnedAtCreation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := b.q.Add(b.ctx, "before", nil, nil); err != nil {
		t.Fatal(err)
	}
	qe := newTestEvents(t, b, "$")
	if _, err := b.q.Add(b.ctx, "after", nil, nil); err != nil {
		t.Fatal(err)
	}
	sub, err := qe.Subscribe(10)
	if err != nil {
		t.Fatal(err)
	}
	evs := recvN(t, sub, 2)
	if evs[0].Name != StreamAdded || evs[0].JobName != "after" || evs[0].JobID != "2" {
		t.Fatalf("events = %+v", evs)
	}
}

// Close interrupts a blocked XREAD at once and closes every channel.
func TestQueueEventsCloseInterruptsBlockedRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	qe, err := NewQueueEvents(b.ctx, b.client, b.name, &QueueEventsOptions{BlockTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := qe.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	sub2, _ := qe.Subscribe(0)
	sub2.Close()
	if _, ok := <-sub2.C; ok {
		t.Fatal("closed subscription delivered an event")
	}
	time.Sleep(100 * time.Millisecond) // let the reader block
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	if err := qe.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, ok := <-sub.C; ok {
		t.Fatal("channel not closed by Close")
	}
	if _, err := qe.Subscribe(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
	if err := qe.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Field decoding follows Node's QueueEvents: progress data and completed
// returnvalue are JSON, delayed delay a number, all else strings.
func TestQueueEventsDecoding(t *testing.T) {
	t.Parallel()
	b := setup(t)
	qe := newTestEvents(t, b, "0")
	key := b.q.k.events()
	for _, f := range [][]any{
		{"event", "progress", "jobId", "7", "data", `{"p":50}`},
		{"event", "completed", "jobId", "7", "returnvalue", `[1,"x"]`, "prev", "active"},
		{"event", "failed", "jobId", "8", "failedReason", "boom", "prev", "active"},
		{"event", "delayed", "jobId", "9", "delay", "1700000000123"},
		{"event", "drained"},
		{"event", "retries-exhausted", "jobId", "8", "attemptsMade", "3"},
	} {
		if err := b.client.XAdd(b.ctx, &redis.XAddArgs{Stream: key, Values: f}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	sub, _ := qe.Subscribe(10)
	evs := recvN(t, sub, 6)
	args := func(i int) string { bs, _ := json.Marshal(evs[i].Args()); return string(bs) }
	checks := []struct{ got, want string }{
		{string(evs[0].Data), `{"p":50}`},
		{args(0), `{"data":{"p":50},"jobId":"7"}`},
		{string(evs[1].ReturnValue), `[1,"x"]`},
		{args(1), `{"jobId":"7","prev":"active","returnvalue":[1,"x"]}`},
		{evs[2].FailedReason + "|" + evs[2].Prev, "boom|active"},
		{args(3), `{"delay":1700000000123,"jobId":"9"}`},
		{evs[4].Name + args(4), "drained{}"},
		{args(5), `{"attemptsMade":"3","jobId":"8"}`},
	}
	for i, c := range checks {
		if c.got != c.want {
			t.Errorf("check %d: got %s, want %s", i, c.got, c.want)
		}
	}
	if evs[3].Delay != 1700000000123 {
		t.Errorf("Delay = %d", evs[3].Delay)
	}
}

// WaitUntilFinished answers for a job finished before the call, for one
// finishing during it, and ErrJobNotFound for a missing job.
func TestWaitUntilFinished(t *testing.T) {
	t.Parallel()
	b := setup(t)
	qe := newTestEvents(t, b, "$")
	j1, _ := b.q.Add(b.ctx, "ok", map[string]any{"v": 1}, nil)
	j2, _ := b.q.Add(b.ctx, "bad", nil, nil)
	w, err := NewWorker(b.client, b.name, func(ctx context.Context, j *Job) (any, error) {
		if j.Name == "bad" {
			return nil, errors.New("boom")
		}
		time.Sleep(300 * time.Millisecond) // finish while waited for
		return map[string]any{"got": j.ID}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := w.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	rv, err := j1.WaitUntilFinished(ctx, qe)
	if err != nil || string(rv) != `{"got":"1"}` {
		t.Fatalf("job 1: %s, %v", rv, err)
	}
	_, err = j2.WaitUntilFinished(ctx, qe)
	var fe *JobFailedError
	if !errors.As(err, &fe) || fe.Reason != "boom" || !errors.Is(err, ErrJobFailed) {
		t.Fatalf("job 2: %v", err)
	}
	// Already finished: answered from the job itself.
	again, _ := b.q.GetJob(b.ctx, "1")
	if rv, err := again.WaitUntilFinished(ctx, qe); err != nil || string(rv) != `{"got":"1"}` {
		t.Fatalf("job 1 again: %s, %v", rv, err)
	}
	missing := &Job{ID: "404", q: b.q}
	if _, err := missing.WaitUntilFinished(ctx, qe); !errors.Is(err, ErrJobNotFound) {
		t.Fatalf("missing job: %v", err)
	}
}
