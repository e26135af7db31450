package clustertest

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

// TestAddWaitReplicas: with QueueOptions.WaitReplicas an add returns only
// once a replica has it, and says ErrNotReplicated (the job is stored on
// the master) when none acknowledges in time: on a single server with and
// without a replica, and on a cluster before and after the replica of the
// queue's master is killed.
func TestAddWaitReplicas(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := &queue.QueueOptions{WaitReplicas: 1, WaitReplicasTimeout: 200 * time.Millisecond}

	// Single server (the sentinel failover client is a *redis.Client too).
	srv := redistest.Start(t, nil)
	rdb := srv.Client(t)
	q, err := queue.NewQueue(rdb, redistest.KeyPrefix(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	j, err := q.Add(ctx, "j", 1, nil)
	if !errors.Is(err, queue.ErrNotReplicated) || j == nil {
		t.Fatalf("Add without a replica: %v, %v; want the job and ErrNotReplicated", j, err)
	}
	if st, err := q.GetState(ctx, j.ID); err != nil || st != queue.StateWaiting {
		t.Fatalf("unreplicated job state %v, %v; want waiting", st, err)
	}
	replica := redistest.Start(t, &redistest.Options{Args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(srv.Port())}})
	rc := replica.Client(t)
	waitFor(t, 20*time.Second, "replica linked", func() bool {
		info, err := rc.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	// A generous timeout when the replica is there: a loaded machine may
	// take a while to answer the master's GETACK.
	patient := *opts
	patient.WaitReplicasTimeout = 10 * time.Second
	q, err = queue.NewQueue(rdb, q.Name(), &patient)
	if err != nil {
		t.Fatal(err)
	}
	j, err = q.Add(ctx, "j", 2, nil)
	if err != nil {
		t.Fatalf("Add with a replica: %v", err)
	}
	if n, err := rc.Exists(ctx, "bull:"+q.Name()+":"+j.ID).Result(); err != nil || n != 1 {
		t.Fatalf("job hash on the replica right after Add: %d, %v", n, err)
	}

	// Cluster.
	c := redistest.StartCluster(t, nil)
	crdb := connect(t, c, nil).Client()
	prefix := "{" + redistest.KeyPrefix(t) + "}"
	copts := *opts
	copts.Prefix = prefix
	copts.WaitReplicasTimeout = 10 * time.Second
	cq, err := queue.NewQueue(crdb, "replicated", &copts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cq.Add(ctx, "j", 1, nil); err != nil {
		t.Fatalf("cluster Add with a replica: %v", err)
	}
	slot, err := c.KeySlot(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.MasterOf(ctx, slot)
	if err != nil {
		t.Fatal(err)
	}
	reps, err := c.ReplicasOf(ctx, m)
	if err != nil || len(reps) == 0 {
		t.Fatalf("replicas of %s: %v, %v", m.Addr(), reps, err)
	}
	for _, r := range reps {
		r.Kill()
	}
	copts.WaitReplicasTimeout = 200 * time.Millisecond
	cq, err = queue.NewQueue(crdb, "replicated", &copts)
	if err != nil {
		t.Fatal(err)
	}
	j, err = cq.Add(ctx, "j", 2, nil)
	if !errors.Is(err, queue.ErrNotReplicated) || j == nil {
		t.Fatalf("cluster Add with its replica dead: %v, %v; want the job and ErrNotReplicated", j, err)
	}
	if st, err := cq.GetState(ctx, j.ID); err != nil || st != queue.StateWaiting {
		t.Fatalf("unreplicated job state %v, %v; want waiting", st, err)
	}
}
