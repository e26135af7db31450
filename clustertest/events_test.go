package clustertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

// TestQueueEventsOnCluster: a QueueEvents follower on a *redis.ClusterClient
// reads the events stream of a hash-tagged queue (its blocking XREAD routed
// to the queue's master) and sees a job's whole life, in order, with a Go
// worker processing it.
func TestQueueEventsOnCluster(t *testing.T) {
	c := redistest.StartCluster(t, &redistest.ClusterOptions{Masters: 3, NoReplicas: true})
	rdb := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const name = "{events}"
	qe, err := queue.NewQueueEvents(ctx, rdb, name, &queue.QueueEventsOptions{Prefix: "ev"})
	if err != nil {
		t.Fatal(err)
	}
	defer qe.Close(ctx)
	sub, err := qe.Subscribe(64)
	if err != nil {
		t.Fatal(err)
	}
	q, err := queue.NewQueue(rdb, name, &queue.QueueOptions{Prefix: "ev"})
	if err != nil {
		t.Fatal(err)
	}
	job, err := q.Add(ctx, "greet", map[string]string{"to": "ana"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := queue.NewWorker(rdb, name, func(context.Context, *queue.Job) (any, error) {
		return map[string]string{"ok": "yes"}, nil
	}, &queue.WorkerOptions{Prefix: "ev"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())

	var seen []string
	for done := false; !done; {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				t.Fatalf("subscription closed after %v", seen)
			}
			if ev.JobID != job.ID {
				continue
			}
			seen = append(seen, ev.Name)
			if ev.Name == queue.StreamCompleted {
				if string(ev.ReturnValue) != `{"ok":"yes"}` {
					t.Fatalf("completed returnvalue %s", ev.ReturnValue)
				}
				done = true
			}
		case <-ctx.Done():
			t.Fatalf("timed out; events seen for job %s: %v", job.ID, seen)
		}
	}
	if got := strings.Join(seen, ","); got != "added,waiting,active,completed" {
		t.Fatalf("events for job %s: %s", job.ID, got)
	}
}
