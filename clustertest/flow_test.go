package clustertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

// TestFlowProducerSharedHashTag: on a cluster a flow is one script call, so
// its queues must share a hash tag. With a "{f}" prefix the tree is stored
// (parent waiting for both children); queues tagged apart are refused with
// ErrNoHashTag before anything is written.
func TestFlowProducerSharedHashTag(t *testing.T) {
	c := redistest.StartCluster(t, &redistest.ClusterOptions{Masters: 3, NoReplicas: true})
	rdb := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fp, err := queue.NewFlowProducer(rdb, &queue.FlowProducerOptions{Prefix: "{f}"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := fp.Add(ctx, queue.FlowJob{Name: "p", QueueName: "parents", Children: []queue.FlowJob{
		{Name: "a", QueueName: "kids"}, {Name: "b", QueueName: "other"}}})
	if err != nil {
		t.Fatalf("flow under one hash tag: %v", err)
	}
	deps, err := rdb.SCard(ctx, "{f}:parents:"+n.Job.ID+":dependencies").Result()
	if err != nil || deps != 2 {
		t.Fatalf("parent dependencies %d (%v), want 2", deps, err)
	}

	fp2, err := queue.NewFlowProducer(rdb, &queue.FlowProducerOptions{Prefix: "bull"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = fp2.Add(ctx, queue.FlowJob{Name: "p", QueueName: "{a}", Children: []queue.FlowJob{{Name: "k", QueueName: "{b}"}}})
	if !errors.Is(err, queue.ErrNoHashTag) {
		t.Fatalf("queues {a} and {b}: err %v, want ErrNoHashTag", err)
	}
	if n, _ := rdb.Exists(ctx, "bull:{a}:id").Result(); n != 0 {
		t.Fatal("a refused flow wrote the parent queue's counter")
	}
}
