package clustertest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

// TestStatsOnCluster: the five app queues under a hash-tagged prefix on a
// 3-master cluster; Stats (API, dashboard, `zyeute queue stats`) reads
// every queue's counts and counts the workers, whose blocking connections
// sit on the master of the prefix's slot, whichever node go-redis picks for
// CLIENT LIST.
func TestStatsOnCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, &redistest.ClusterOptions{NoReplicas: true})
	conn := connect(t, c, nil)
	rdb := conn.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prefix := "{" + redistest.KeyPrefix(t) + "}"
	names := jobs.Names()
	for i, name := range names {
		q, err := queue.NewQueue(rdb, name, &queue.QueueOptions{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j <= i; j++ {
			if _, err := q.Add(ctx, "j", j, nil); err != nil {
				t.Fatalf("Add on %s: %v", name, err)
			}
		}
	}
	// Two idle workers on the first queue (paused, so that they stay idle).
	wq, err := queue.NewQueue(rdb, names[0], &queue.QueueOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	if err := wq.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		runWorker(t, rdb, prefix, names[0], func(context.Context, *queue.Job) (any, error) { return nil, nil }, nil)
	}
	st, err := jobs.NewStats(conn, names, &jobs.StatsConfig{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	// Worker connections show up once the workers block on the marker.
	var last *jobs.StatsSnapshot
	waitFor(t, 10*time.Second, "2 workers counted", func() bool {
		last, err = st.Refresh(ctx)
		return err == nil && last.Queues[0].Workers != nil && *last.Queues[0].Workers == 2
	})
	// Every refresh must see them, not one in three.
	for r := 0; r < 12; r++ {
		snap, err := st.Refresh(ctx)
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if snap.WorkersError != "" {
			t.Fatalf("workers error: %s", snap.WorkersError)
		}
		for i, qs := range snap.Queues {
			if qs.Queue != names[i] {
				t.Fatalf("queue %d is %s, want %s", i, qs.Queue, names[i])
			}
			if got := qs.Counts.Waiting + qs.Counts.Paused; i > 0 && got != int64(i+1) {
				t.Fatalf("%s: %d waiting, want %d", qs.Queue, got, i+1)
			}
			want := 0
			if i == 0 {
				want = 2
			}
			if qs.Workers == nil || *qs.Workers != want {
				got := "null"
				if qs.Workers != nil {
					got = strconv.Itoa(*qs.Workers)
				}
				t.Fatalf("refresh %d: %s has %s workers, want %d", r, qs.Queue, got, want)
			}
		}
	}
}

// TestQueueStatsOnEveryMaster: queue.Stats runs on the node of each queue
// (three queues whose hash tags put them on three masters), and
// queue.CountWorkers counts each queue's workers on its own master.
func TestQueueStatsOnEveryMaster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, &redistest.ClusterOptions{NoReplicas: true})
	rdb := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prefix := redistest.KeyPrefix(t)
	tags := tagsOnDistinctMasters(ctx, t, c, prefix, 3)
	var names []string
	for i, tag := range tags {
		name := "{" + tag + "}"
		names = append(names, name)
		q, err := queue.NewQueue(rdb, name, &queue.QueueOptions{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j <= i; j++ {
			if _, err := q.Add(ctx, "j", j, nil); err != nil {
				t.Fatal(err)
			}
		}
		if i == 2 {
			if err := q.Pause(ctx); err != nil {
				t.Fatal(err)
			}
			runWorker(t, rdb, prefix, name, func(context.Context, *queue.Job) (any, error) { return nil, nil }, nil)
		}
		s, err := q.Stats(ctx, nil)
		if err != nil {
			t.Fatalf("Stats of %s: %v", name, err)
		}
		if s.Counts.Waiting != int64(i+1) || s.Paused != (i == 2) || s.OldestWaiting.IsZero() {
			t.Fatalf("Stats of %s: %+v, want %d waiting", name, s, i+1)
		}
	}
	waitFor(t, 10*time.Second, "the worker counted on its master", func() bool {
		w, err := queue.CountWorkers(ctx, rdb, prefix, names)
		return err == nil && w[names[0]] == 0 && w[names[1]] == 0 && w[names[2]] == 1
	})
}
