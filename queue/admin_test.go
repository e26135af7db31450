package queue

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

// TestAdminBatchesAndValidation: Drain and Obliterate finish queues larger
// than one batch; Clean with a limit above its batch removes exactly the
// limit; bad arguments are refused with the argument's name.
func TestAdminBatchesAndValidation(t *testing.T) {
	b := setup(t)
	add := func(n int, opts *AddOptions) {
		jobs := make([]BulkJob, n)
		for i := range jobs {
			jobs[i] = BulkJob{Name: "j" + strconv.Itoa(i), Opts: opts}
		}
		if _, err := b.q.AddBulk(b.ctx, jobs); err != nil {
			t.Fatal(err)
		}
	}
	add(2500, nil)
	add(10, &AddOptions{Priority: 3})
	if err := b.q.Drain(b.ctx, false); err != nil {
		t.Fatal(err)
	}
	c, err := b.q.Counts(b.ctx)
	if err != nil || c.Waiting+c.Prioritized != 0 {
		t.Fatalf("after drain: %+v, %v", c, err)
	}
	if n := b.client.Exists(b.ctx, b.q.k.job("1"), b.q.k.job("2510")).Val(); n != 0 {
		t.Errorf("%d job hashes left after drain", n)
	}

	add(12005, nil)
	ids, err := b.q.Clean(b.ctx, 0, 12001, StateWaiting)
	if err != nil || len(ids) != 12001 {
		t.Fatalf("clean removed %d, %v", len(ids), err)
	}
	cleaned := 0
	for _, x := range b.client.XRange(b.ctx, b.q.k.events(), "-", "+").Val() {
		if x.Values["event"] == "cleaned" {
			cleaned++
		}
	}
	if cleaned != 2 {
		t.Errorf("%d cleaned events, want 2 (batches of 10000 and 2001)", cleaned)
	}
	if err := b.q.Obliterate(b.ctx, &ObliterateOptions{Count: 3}); err != nil {
		t.Fatal(err)
	}
	if n := b.client.DBSize(b.ctx).Val(); n != 0 {
		t.Errorf("%d keys left after obliterate", n)
	}

	for what, err := range map[string]error{
		"state":    second(b.q.Clean(b.ctx, 0, 0, "done")),
		"limit":    second(b.q.Clean(b.ctx, 0, -1, StateFailed)),
		"grace":    second(b.q.Clean(b.ctx, -time.Second, 0, StateFailed)),
		"Count":    b.q.Obliterate(b.ctx, &ObliterateOptions{Count: -1}),
		"duration": b.q.RateLimit(b.ctx, 0),
	} {
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != what {
			t.Errorf("%s: %v", what, err)
		}
	}
	w, err := NewWorker(b.client, b.name, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.GetNextJob(b.ctx, "0"); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("GetNextJob with token 0: %v", err)
	}
	if err := (&Job{ID: "1", q: b.q}).MoveToCompleted(b.ctx, nil, "t"); err == nil {
		t.Error("MoveToCompleted of a job not from GetNextJob accepted")
	}
	if err := w.Start(b.ctx); !errors.Is(err, ErrNoHandler) {
		t.Errorf("Start without handler: %v", err)
	}
	if err := w.Close(b.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.GetNextJob(b.ctx, "t"); !errors.Is(err, ErrClosed) {
		t.Errorf("GetNextJob after Close: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }
