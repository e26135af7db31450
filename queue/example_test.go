package queue_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zyeute/zyeute-redis/queue"
)

// redisAddr is the Redis server the examples use (TestExamples points it
// at a test server and runs them).
var redisAddr = "127.0.0.1:6379"

// Add a job with retries, exponential backoff and a retention rule; a
// Node or Go worker of "video-enhancement" runs it.
func ExampleQueue_Add() {
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer c.Close()

	q, err := queue.NewQueue(c, "video-enhancement", nil) // prefix "bull"
	if err != nil {
		log.Fatal(err)
	}
	job, err := q.Add(ctx, "enhance", map[string]string{"video": "v1"}, &queue.AddOptions{
		Attempts:         3,
		Backoff:          &queue.Backoff{Type: "exponential", Delay: time.Second},
		RemoveOnComplete: queue.KeepLast(1000),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("added job", job.ID)
}

// A worker that runs until SIGTERM, then stops taking jobs and gives the
// running ones 30 s to finish.
func ExampleWorker() {
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer c.Close()

	w, err := queue.NewWorker(c, "video-enhancement", func(ctx context.Context, j *queue.Job) (any, error) {
		var in struct {
			Video string `json:"video"`
		}
		if err := j.Unmarshal(&in); err != nil {
			return nil, queue.Unrecoverable(err) // fail now, no retry
		}
		_ = j.UpdateProgress(ctx, map[string]int{"p": 50})
		return map[string]string{"url": "https://cdn.example/" + in.Video}, nil // the JSON returnvalue
	}, &queue.WorkerOptions{Name: "w1", Concurrency: 10})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := w.Start(ctx); err != nil {
		log.Fatal(err)
	}
	<-ctx.Done()

	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Close(shutdown); err != nil {
		log.Printf("worker closed with jobs still running: %v", err)
	}
}

// Follow a queue's events as Node's QueueEvents reports them.
func ExampleQueueEvents() {
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer c.Close()

	qe, err := queue.NewQueueEvents(ctx, c, "mailer", nil) // from now on ("$")
	if err != nil {
		log.Fatal(err)
	}
	defer qe.Close(ctx)
	sub, err := qe.Subscribe(100)
	if err != nil {
		log.Fatal(err)
	}

	q, _ := queue.NewQueue(c, "mailer", nil)
	job, err := q.Add(ctx, "welcome", map[string]string{"to": "ana@example.org"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	for ev := range sub.C {
		switch ev.Name {
		case queue.StreamAdded, queue.StreamWaiting:
			fmt.Println(ev.Name, ev.JobID == job.ID)
		case queue.StreamCompleted:
			fmt.Println("result", string(ev.ReturnValue))
		case queue.StreamFailed:
			fmt.Println("failed:", ev.FailedReason)
		}
		if ev.Name == queue.StreamWaiting && ev.JobID == job.ID {
			sub.Close()
		}
	}
}

// Add a job and wait for its result, whichever worker (Node or Go) runs it.
func ExampleJob_WaitUntilFinished() {
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer c.Close()

	qe, err := queue.NewQueueEvents(ctx, c, "thumbnails", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer qe.Close(ctx)
	q, _ := queue.NewQueue(c, "thumbnails", nil)
	job, err := q.Add(ctx, "thumb", map[string]int{"w": 320}, nil)
	if err != nil {
		log.Fatal(err)
	}

	// Here a Go worker; a Node worker on the same queue does as well.
	w, _ := queue.NewWorker(c, "thumbnails", func(ctx context.Context, j *queue.Job) (any, error) {
		return map[string]string{"path": "/t/" + j.ID + ".jpg"}, nil
	}, nil)
	_ = w.Start(ctx)
	defer w.Close(ctx)

	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rv, err := job.WaitUntilFinished(wctx, qe)
	var failed *queue.JobFailedError
	switch {
	case errors.As(err, &failed):
		fmt.Println("failed:", failed.Reason)
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println(string(rv))
	}
}
