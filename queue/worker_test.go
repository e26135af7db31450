package queue

import (
	"context"
	"testing"
	"time"
)

func TestWorkerProcessesJobs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := &recorder{}
	startWorker(t, b, func(ctx context.Context, j *Job) (any, error) {
		return map[string]string{"echo": j.Name}, nil
	}, &WorkerOptions{OnEvent: rec.on, Concurrency: 3})
	for i := 0; i < 20; i++ {
		if _, err := b.q.Add(b.ctx, "j", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "20 completions", func() bool { return rec.count(EventCompleted) == 20 })
	c, _ := b.q.Counts(b.ctx)
	if c.Completed != 20 || c.Active != 0 || c.Waiting != 0 {
		t.Fatalf("counts %+v", c)
	}
	if h := b.hash(t, "7"); h["returnvalue"] != `{"echo":"j"}` || h["atm"] != "1" || h["ats"] != "1" {
		t.Fatalf("hash %v", h)
	}
}
