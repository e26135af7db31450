package queue

import (
	"context"
	"testing"
	"time"
)

// LESSONS.md (BullMQ #1658): delayed jobs must not be late after a
// connection blip. Every client connection is killed while an idle worker
// waits for a delayed job; Redis keeps its data, and the job still starts
// within a second of its due time.
func TestWorkerDelayedJobAfterConnectionBlip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	started := make(chan time.Time, 1)
	startWorker(t, b, func(context.Context, *Job) (any, error) {
		started <- time.Now()
		return nil, nil
	}, &WorkerOptions{DrainDelay: 5 * time.Second})
	job, err := b.q.Add(b.ctx, "later", nil, &AddOptions{Delay: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	due := time.UnixMilli(job.Timestamp + 2000)
	time.Sleep(500 * time.Millisecond) // the worker is blocked on the marker now
	// Kill every client connection (the worker's blocking and main ones).
	admin := b.srv.Client(t)
	killed, err := admin.ClientKillByFilter(b.ctx, "TYPE", "normal", "SKIPME", "yes").Result()
	if err != nil || killed < 2 {
		t.Fatalf("CLIENT KILL: %d connections killed (want the worker's main and blocking ones), %v", killed, err)
	}
	select {
	case at := <-started:
		if at.Before(due.Add(-5 * time.Millisecond)) {
			t.Fatalf("job started %s before its due time", due.Sub(at))
		}
		if late := at.Sub(due); late > time.Second {
			t.Fatalf("job started %s after its due time: delayed promotion did not re-arm after the blip", late)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the delayed job never started after the connection blip")
	}
}
