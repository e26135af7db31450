package queue_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

// A flow: "publish" on queue "posts" runs once both of its children on
// "media" have completed (Node or Go workers alike). If the transcode
// fails, the parent fails too (FailParentOnFailure); a failed thumbnail
// is only recorded (IgnoreDependencyOnFailure).
func ExampleFlowProducer() {
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer c.Close()

	fp, err := queue.NewFlowProducer(c, nil) // prefix "bull"
	if err != nil {
		log.Fatal(err)
	}
	tree, err := fp.Add(ctx, queue.FlowJob{
		Name: "publish", QueueName: "posts", Data: map[string]string{"post": "p1"},
		Children: []queue.FlowJob{
			{Name: "transcode", QueueName: "media", Data: map[string]string{"video": "v1"},
				Opts: &queue.FlowJobOptions{FailParentOnFailure: true, AddOptions: queue.AddOptions{Attempts: 3}}},
			{Name: "thumbnail", QueueName: "media", Data: map[string]string{"video": "v1"},
				Opts: &queue.FlowJobOptions{IgnoreDependencyOnFailure: true}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	posts, _ := queue.NewQueue(c, "posts", nil)
	state, _ := posts.GetState(ctx, tree.Job.ID)
	fmt.Println("publish is", state, "with", len(tree.Children), "children")

	// Read the tree back, as Node's getFlow.
	read, err := queue.GetFlow(ctx, c, queue.FlowOpts{ID: tree.Job.ID, QueueName: "posts"})
	if err != nil {
		log.Fatal(err)
	}
	for _, ch := range read.Children {
		fmt.Println(ch.Queue, ch.Job.Name)
	}
}

// A job scheduler: "daily-report" every day at 08:00 Paris time, and
// "heartbeat" every 30 s. Each iteration is a job "repeat:<id>:<millis>";
// the worker (Node or Go) that starts one creates the next.
func ExampleQueue_UpsertJobScheduler() {
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer c.Close()

	q, err := queue.NewQueue(c, "reports", nil)
	if err != nil {
		log.Fatal(err)
	}
	first, err := q.UpsertJobScheduler(ctx, "daily-report",
		queue.RepeatOptions{Pattern: "0 0 8 * * *", TZ: "Europe/Paris"},
		&queue.JobTemplate{Name: "report", Data: map[string]string{"to": "ops@example.com"},
			Opts: &queue.AddOptions{Attempts: 2}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(first.ID, "repeat:daily-report:"), first.Delay > 0)

	if _, err := q.UpsertJobScheduler(ctx, "heartbeat", queue.RepeatOptions{Every: 30 * time.Second}, nil); err != nil {
		log.Fatal(err)
	}
	s, err := q.GetJobScheduler(ctx, "heartbeat")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Name, s.Every, s.IterationCount)

	removed, _ := q.RemoveJobScheduler(ctx, "heartbeat")
	n, _ := q.GetJobSchedulersCount(ctx)
	fmt.Println(removed, n)
}

// TestFlowExamples runs the two examples above against a test Redis and
// checks what they print.
func TestFlowExamples(t *testing.T) {
	srv := redistest.Start(t, nil)
	old := redisAddr
	redisAddr = srv.Addr()
	defer func() { redisAddr = old }()
	if got, want := capture(t, ExampleFlowProducer), "publish is waiting-children with 2 children\nbull:media transcode\nbull:media thumbnail\n"; got != want {
		// the two pending children come sorted by key: compare as sets
		if !strings.HasPrefix(got, "publish is waiting-children with 2 children\n") || len(got) != len(want) ||
			!strings.Contains(got, "bull:media transcode\n") || !strings.Contains(got, "bull:media thumbnail\n") {
			t.Fatalf("ExampleFlowProducer printed %q, want %q", got, want)
		}
	}
	if got, want := capture(t, ExampleQueue_UpsertJobScheduler), "true true\nheartbeat 30000 1\ntrue 1\n"; got != want {
		t.Fatalf("ExampleQueue_UpsertJobScheduler printed %q, want %q", got, want)
	}
}
