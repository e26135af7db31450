package queue

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The worker recovers by itself after Redis is killed and restarted.
func TestWorkerRecoversAfterRedisRestart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := &recorder{}
	startWorker(t, b, func(context.Context, *Job) (any, error) { return "ok", nil },
		&WorkerOptions{OnEvent: rec.on, DrainDelay: time.Second, StalledInterval: time.Second})
	mustAdd(t, b, "before", nil)
	waitFor(t, 10*time.Second, "first job", func() bool { return rec.count(EventCompleted) == 1 })
	b.srv.Kill()
	time.Sleep(300 * time.Millisecond) // let the loops notice
	b.srv.Restart()
	id := mustAdd(t, b, "after", nil) // a fresh server: ids restart at 1
	waitFor(t, 20*time.Second, "job after restart", func() bool { return rec.count(EventCompleted) == 2 })
	if s := b.state(t, id); s != StateCompleted {
		t.Fatalf("state %s", s)
	}
}

// Close waits for running jobs; jobs still running when its ctx ends are
// cancelled and handed back to wait, untouched.
func TestWorkerCloseWhileJobsRun(t *testing.T) {
	t.Parallel()
	t.Run("waits", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := mustAdd(t, b, "slow", nil)
		started := make(chan struct{})
		w := startWorker(t, b, func(ctx context.Context, j *Job) (any, error) {
			close(started)
			time.Sleep(300 * time.Millisecond)
			return "done", nil
		}, nil)
		<-started
		mustAdd(t, b, "next", nil)
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if s := b.state(t, id); s != StateCompleted {
			t.Fatalf("state %s after Close", s)
		}
		if n := b.client.LLen(b.ctx, b.q.k.wait()).Val(); n != 1 {
			t.Fatalf("closing worker fetched the next job (wait has %d)", n)
		}
		if err := w.Close(context.Background()); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := w.Start(b.ctx); err != ErrClosed {
			t.Fatalf("Start after Close: %v", err)
		}
	})
	t.Run("cancels", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := mustAdd(t, b, "stuck", &AddOptions{Attempts: 1})
		started := make(chan struct{})
		var cause atomic.Value
		w := startWorker(t, b, func(ctx context.Context, j *Job) (any, error) {
			close(started)
			<-ctx.Done()
			cause.Store(context.Cause(ctx))
			return nil, ctx.Err()
		}, nil)
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := w.Close(ctx); err != context.DeadlineExceeded {
			t.Fatalf("Close = %v", err)
		}
		if c := cause.Load(); c != ErrWorkerClosing {
			t.Fatalf("cause %v", c)
		}
		if s := b.state(t, id); s != StateWaiting {
			t.Fatalf("state %s, want waiting (handed back)", s)
		}
		h := b.hash(t, id)
		if h["atm"] != "" || b.client.Exists(b.ctx, b.q.k.lock(id)).Val() != 0 {
			t.Fatalf("hash %v", h)
		}
		if got := b.eventsOf(t, id); got[len(got)-1] != "waiting/active" {
			t.Fatalf("events %v", got)
		}
	})
}

// Close returns within its deadline plus the fixed grace when Redis is
// down, even with a job running.
func TestWorkerCloseWithRedisDown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mustAdd(t, b, "j", nil)
	started := make(chan struct{})
	w := startWorker(t, b, func(ctx context.Context, j *Job) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}, nil)
	<-started
	b.srv.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Close(ctx) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Close reported success although it had to cancel a job")
		}
	case <-time.After(300*time.Millisecond + 2*closeGrace + time.Second):
		t.Fatal("Close hung with Redis down")
	}
}

// An idle worker costs Redis at most about 2 commands per second.
func TestWorkerIdleLoad(t *testing.T) {
	t.Parallel()
	b := setup(t)
	startWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil },
		&WorkerOptions{DrainDelay: time.Second})
	waitFor(t, 5*time.Second, "worker blocking", func() bool {
		return strings.Contains(b.client.ClientList(b.ctx).Val(), "cmd=bzpopmin")
	})
	before := clientCalls(t, b)
	time.Sleep(3 * time.Second)
	// round trips sent by clients (script-internal calls excluded); the
	// test's own INFO call counts once
	if n := clientCalls(t, b) - before - 1; n > 2*3+1 {
		t.Fatalf("%d round trips in 3 s while idle", n)
	}
}

// clientCalls sums the calls of the commands clients send (not the ones
// scripts run inside Redis), from INFO commandstats.
func clientCalls(t testing.TB, b *bundle) int64 {
	var n int64
	for _, line := range strings.Split(b.client.Info(b.ctx, "commandstats").Val(), "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		switch strings.TrimPrefix(name, "cmdstat_") {
		case "evalsha", "eval", "bzpopmin", "info", "client|list", "client|setname", "hello", "ping":
			calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
			c, _ := strconv.ParseInt(calls, 10, 64)
			n += c
		}
	}
	return n
}
