package queue_test

import (
	"context"
	"fmt"
	"log"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

// Remove the waiting jobs older than an hour, and the completed ones
// older than a day, as Node's queue.clean does.
func ExampleQueue_Clean() {
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer c.Close()

	q, err := queue.NewQueue(c, "thumbnails", nil)
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		// old jobs: added two hours ago
		if _, err := q.Add(ctx, "thumb", nil, &queue.AddOptions{Timestamp: time.Now().Add(-2 * time.Hour)}); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := q.Add(ctx, "thumb", nil, nil); err != nil { // a fresh one
		log.Fatal(err)
	}
	ids, err := q.Clean(ctx, time.Hour, 0, queue.StateWaiting)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("removed waiting jobs", ids)
	if _, err := q.Clean(ctx, 24*time.Hour, 1000, queue.StateCompleted); err != nil {
		log.Fatal(err)
	}
}

// Process jobs by hand, without a handler: fetch under a lock token of
// your own, renew the lock while working, then complete (or fail) the job.
func ExampleWorker_GetNextJob() {
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer c.Close()

	w, err := queue.NewWorker(c, "reports", nil, &queue.WorkerOptions{LockDuration: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close(ctx)
	if _, err := w.Queue().Add(ctx, "monthly", map[string]string{"month": "2026-10"}, nil); err != nil {
		log.Fatal(err)
	}
	token := uuid.NewString()
	job, err := w.GetNextJob(ctx, token)
	if err != nil || job == nil {
		log.Fatal("no job: ", err)
	}
	if err := job.ExtendLock(ctx, token, time.Minute); err != nil {
		log.Fatal(err) // lost the lock: stop working on the job
	}
	if err := job.MoveToCompleted(ctx, map[string]int{"rows": 42}, token); err != nil {
		log.Fatal(err)
	}
	state, _ := job.GetState(ctx)
	fmt.Println(job.Name, state, string(job.ReturnValue))
}

// TestAdminExamples runs the admin examples against a test Redis and
// checks what they print.
func TestAdminExamples(t *testing.T) {
	srv := redistest.Start(t, nil)
	redisAddr = srv.Addr()
	for _, ex := range []struct {
		name string
		run  func()
		want string
	}{
		{"Queue_Clean", ExampleQueue_Clean, "removed waiting jobs [3 2 1]\n"},
		{"Worker_GetNextJob", ExampleWorker_GetNextJob, `monthly completed {"rows":42}` + "\n"},
	} {
		t.Run(ex.name, func(t *testing.T) {
			if got := capture(t, ex.run); got != ex.want {
				t.Fatalf("printed %q, want %q", got, ex.want)
			}
		})
	}
}
