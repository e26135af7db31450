package queue

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A Go-made every scheduler runs on a Go worker, one iteration per start;
// RemoveJobScheduler stops it and removes the pending (delayed) iteration
// with a `removed` event.
func TestJobSchedulerGoMadeGoWorker(t *testing.T) {
	b := setup(t)
	first, err := b.q.UpsertJobScheduler(b.ctx, "s", RepeatOptions{Every: 300 * time.Millisecond},
		&JobTemplate{Name: "tick", Data: map[string]int{"n": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if first.RepeatJobKey != "s" || first.Name != "tick" || !strings.HasPrefix(first.ID, "repeat:s:") {
		t.Fatalf("first iteration %+v", first)
	}
	var runs atomic.Int32
	w, err := NewWorker(b.client, b.name, func(_ context.Context, j *Job) (any, error) {
		if j.Name == "tick" && j.RepeatJobKey == "s" {
			runs.Add(1)
		}
		return nil, nil
	}, &WorkerOptions{DrainDelay: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "3 iterations", func() bool { return runs.Load() >= 3 })
	if err := w.Close(b.ctx); err != nil {
		t.Fatal(err)
	}
	s, err := b.q.GetJobScheduler(b.ctx, "s")
	if err != nil || s.IterationCount != int64(runs.Load())+1 || s.Every != 300 || s.Name != "tick" || string(s.TemplateData) != `{"n":1}` {
		t.Fatalf("scheduler %+v (%v) after %d runs", s, err, runs.Load())
	}
	pending := "repeat:s:" + strconv.FormatInt(s.Next, 10)
	if st, _ := b.q.GetState(b.ctx, pending); st != StateDelayed {
		t.Fatalf("pending iteration %s is %s", pending, st)
	}
	ok, err := b.q.RemoveJobScheduler(b.ctx, "s")
	if err != nil || !ok {
		t.Fatalf("remove: %v %v", ok, err)
	}
	if n, _ := b.client.Exists(b.ctx, b.q.k.job(pending), b.q.k.repeat()+":s").Result(); n != 0 {
		t.Fatal("the pending iteration or the scheduler hash survived the removal")
	}
	if _, err := b.q.GetJobScheduler(b.ctx, "s"); !errors.Is(err, ErrSchedulerNotFound) {
		t.Fatalf("get after remove: %v", err)
	}
	xs := b.client.XRevRangeN(b.ctx, b.q.k.events(), "+", "-", 1).Val()
	if len(xs) != 1 || xs[0].Values["event"] != "removed" || xs[0].Values["jobId"] != pending || xs[0].Values["prev"] != "delayed" {
		t.Fatalf("last event %v", xs)
	}
	if ok, _ := b.q.RemoveJobScheduler(b.ctx, "s"); ok {
		t.Fatal("a second remove reported a scheduler")
	}
}

// Bad schedules are refused with the option named and nothing written.
func TestJobSchedulerBadInput(t *testing.T) {
	b := setup(t)
	past := time.Now().Add(-time.Hour)
	cases := map[string]struct {
		id   string
		r    RepeatOptions
		tmpl *JobTemplate
		want string
	}{
		"no id":          {"", RepeatOptions{Every: time.Second}, nil, "id"},
		"neither":        {"s", RepeatOptions{}, nil, "one of Every"},
		"both":           {"s", RepeatOptions{Every: time.Second, Pattern: "* * * * *"}, nil, "both"},
		"sub-ms":         {"s", RepeatOptions{Every: 1500 * time.Microsecond}, nil, "whole milliseconds"},
		"immediately":    {"s", RepeatOptions{Pattern: "* * * * *", Immediately: true, StartDate: time.Now()}, nil, "Immediately"},
		"offset cron":    {"s", RepeatOptions{Pattern: "* * * * *", Offset: time.Second}, nil, "Every only"},
		"end in past":    {"s", RepeatOptions{Every: time.Second, EndDate: past}, nil, "future"},
		"bad pattern":    {"s", RepeatOptions{Pattern: "61 * * * * *"}, nil, "Pattern"},
		"bad tz":         {"s", RepeatOptions{Pattern: "* * * * *", TZ: "Mars/Base"}, nil, "Mars/Base"},
		"template jobId": {"s", RepeatOptions{Every: time.Second}, &JobTemplate{Opts: &AddOptions{JobID: "x"}}, "JobID"},
		"template delay": {"s", RepeatOptions{Every: time.Second}, &JobTemplate{Opts: &AddOptions{Delay: time.Second}}, "Delay"},
		"bad data":       {"s", RepeatOptions{Every: time.Second}, &JobTemplate{Data: []byte("{")}, "JSON"},
	}
	for name, c := range cases {
		_, err := b.q.UpsertJobScheduler(b.ctx, c.id, c.r, c.tmpl)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one naming %q", name, err, c.want)
		}
	}
	if n, _ := b.client.Exists(b.ctx, b.q.k.repeat(), b.q.k.id()).Result(); n != 0 {
		t.Fatal("refused upserts wrote keys")
	}
	// A pattern with no time before its end date: nothing to add, as Node.
	j, err := b.q.UpsertJobScheduler(b.ctx, "late", RepeatOptions{Pattern: "0 0 0 1 1 *", TZ: "UTC",
		EndDate: time.Now().Add(time.Minute)}, nil)
	if err != nil || j != nil {
		t.Fatalf("no run left: job %v, err %v", j, err)
	}
	if n, _ := b.q.GetJobSchedulersCount(b.ctx); n != 0 {
		t.Fatalf("%d schedulers stored", n)
	}
}
