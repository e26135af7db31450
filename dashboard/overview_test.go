package dashboard_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/dashboard"
	"github.com/zyeute/zyeute-redis/queue"
)

// TestOverviewStats: the overview's row of a queue comes from queue.Stats
// and queue.CountWorkers: counts, paused flag, oldest waiting age, workers
// connected, and an active job whose lock is gone (its worker stopped
// renewing it) counted as active without lock.
func TestOverviewStats(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()

	// "orphans": a job taken by hand under a 200ms lock nobody renews.
	orphans := b.queue("orphans")
	if _, err := orphans.Add(ctx, "lost", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := orphans.Add(ctx, "next", map[string]any{}, &queue.AddOptions{Timestamp: time.Now().Add(-90 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	mw, err := queue.NewWorker(b.rc, "orphans", nil, &queue.WorkerOptions{Prefix: b.prefix, LockDuration: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mw.Close(context.Background()) })
	if j, err := mw.GetNextJob(ctx, "tok-1"); err != nil || j == nil || j.Name != "lost" {
		t.Fatalf("GetNextJob: %v %v", j, err)
	}
	// "served": one running Go worker, paused.
	served := b.queue("served")
	b.worker("served", func(ctx context.Context, j *queue.Job) (any, error) { return nil, nil })
	if err := served.Pause(ctx); err != nil {
		t.Fatal(err)
	}

	rows := func() map[string]map[string]any {
		resp, body := b.req("GET", dashboard.APIPath+"/queues", bearer, "")
		if resp.StatusCode != 200 {
			t.Fatalf("overview: %d %v", resp.StatusCode, body)
		}
		out := map[string]map[string]any{}
		for _, r := range body["queues"].([]any) {
			row := r.(map[string]any)
			out[row["name"].(string)] = row
		}
		return out
	}
	var o map[string]any
	eventually(t, "the lock expires", 20*time.Second, func() bool {
		o = rows()["orphans"]
		return o["active_without_lock"] == float64(1)
	})
	c := o["counts"].(map[string]any)
	if c["active"] != float64(1) || c["waiting"] != float64(1) || o["paused"] != false || o["workers"] != float64(0) {
		t.Errorf("orphans row: %v", o)
	}
	if age, _ := o["oldest_waiting_age_seconds"].(float64); age < 89 || age > 600 {
		t.Errorf("orphans oldest waiting age %v s, want about 90", o["oldest_waiting_age_seconds"])
	}
	eventually(t, "the served worker counted", 20*time.Second, func() bool {
		s := rows()["served"]
		return s["workers"] == float64(1) && s["paused"] == true && s["active_without_lock"] == float64(0) && s["oldest_waiting_age_seconds"] == nil
	})
}
