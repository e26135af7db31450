package queue

import (
	"context"
	"testing"
	"time"
)

// TestWorkerCloseHandsBackStuckHandler: a handler that ignores its
// cancelled context past Close's grace does not leave its job active (for
// the stalled check): Close hands it back to wait, untouched, and what the
// handler returns later is discarded.
func TestWorkerCloseHandsBackStuckHandler(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := mustAdd(t, b, "stuck", &AddOptions{Attempts: 1})
	started, release, returned := make(chan struct{}), make(chan struct{}), make(chan struct{})
	rec := &recorder{}
	w := startWorker(t, b, func(ctx context.Context, j *Job) (any, error) {
		close(started)
		<-release // ignores ctx
		defer close(returned)
		return "late", nil
	}, &WorkerOptions{OnEvent: rec.on})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := w.Close(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Close = %v", err)
	}
	if s := b.state(t, id); s != StateWaiting {
		t.Fatalf("state %s after Close, want waiting (handed back)", s)
	}
	if b.client.Exists(b.ctx, b.q.k.lock(id)).Val() != 0 {
		t.Fatal("lock still held")
	}
	close(release)
	<-returned
	time.Sleep(200 * time.Millisecond) // let the late return be processed
	if s := b.state(t, id); s != StateWaiting || rec.count(EventCompleted) != 0 {
		t.Fatalf("state %s, %d completed after the stuck handler returned", s, rec.count(EventCompleted))
	}
	if h := b.hash(t, id); h["returnvalue"] != "" || h["atm"] != "" {
		t.Fatalf("hash %v", h)
	}
}
