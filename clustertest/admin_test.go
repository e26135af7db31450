package clustertest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

// TestAdminOpsOnCluster: with the hash tag in the prefix, the admin
// scripts (Remove of a flow across two queues, Clean, Drain, manual
// processing, RateLimit, Obliterate) run on a Cluster without CROSSSLOT
// errors and do their work.
func TestAdminOpsOnCluster(t *testing.T) {
	c := redistest.StartCluster(t, &redistest.ClusterOptions{Masters: 3, NoReplicas: true})
	rdb := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := &queue.QueueOptions{Prefix: "{adm}"}
	qa, err := queue.NewQueue(rdb, "a", opts)
	if err != nil {
		t.Fatal(err)
	}
	qb, err := queue.NewQueue(rdb, "b", opts)
	if err != nil {
		t.Fatal(err)
	}
	// A flow: parent p in a waiting for child 1 of b.
	child, err := qb.Add(ctx, "child", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rdb.HSet(ctx, "{adm}:a:p", "name", "p", "data", "{}", "opts", "{}", "timestamp", 1, "delay", 0, "priority", 0).Err())
	must(rdb.ZAdd(ctx, "{adm}:a:waiting-children", redis.Z{Score: 1, Member: "p"}).Err())
	must(rdb.SAdd(ctx, "{adm}:a:p:dependencies", "{adm}:b:"+child.ID).Err())
	must(rdb.HSet(ctx, "{adm}:b:"+child.ID, "parentKey", "{adm}:a:p", "parent", `{"id":"p","queueKey":"{adm}:a"}`).Err())
	must(qa.Remove(ctx, "p"))
	if st, _ := qb.GetState(ctx, child.ID); st != queue.StateUnknown {
		t.Errorf("child after parent removal: %s", st)
	}

	for i := 0; i < 5; i++ {
		if _, err := qa.Add(ctx, "x", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := qa.Clean(ctx, 0, 2, queue.StateWaiting)
	if err != nil || len(ids) != 2 {
		t.Fatalf("clean: %v %v", ids, err)
	}
	w, err := queue.NewWorker(rdb, "a", nil, &queue.WorkerOptions{Prefix: "{adm}"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	j, err := w.GetNextJob(ctx, "tok")
	if err != nil || j == nil {
		t.Fatalf("GetNextJob: %v %v", j, err)
	}
	must(j.ExtendLock(ctx, "tok", time.Minute))
	must(j.MoveToCompleted(ctx, 1, "tok"))
	must(qa.RateLimit(ctx, time.Second))
	must(qa.Drain(ctx, true))
	cn, err := qa.Counts(ctx)
	if err != nil || cn.Waiting != 0 || cn.Completed != 1 {
		t.Fatalf("after drain: %+v %v", cn, err)
	}
	must(qa.Obliterate(ctx, nil))
	if n, _ := rdb.Exists(ctx, "{adm}:a:meta", "{adm}:a:completed", "{adm}:a:events").Result(); n != 0 {
		t.Errorf("%d queue keys left after obliterate", n)
	}
}
