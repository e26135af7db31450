package queue

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startWorker starts a worker on the bundle's queue and closes it at
// cleanup (failing the test if Close does not return in time).
func startWorker(t *testing.T, b *bundle, h Handler, o *WorkerOptions) *Worker {
	t.Helper()
	w := newWorker(t, b, h, o)
	if err := w.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	return w
}

func newWorker(t *testing.T, b *bundle, h Handler, o *WorkerOptions) *Worker {
	t.Helper()
	if o == nil {
		o = &WorkerOptions{}
	}
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	w, err := NewWorker(b.client, b.name, h, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Close(ctx)
	})
	return w
}

// recorder collects worker events for tests.
type recorder struct {
	mu  sync.Mutex
	evs []WorkerEvent
}

func (r *recorder) on(ev WorkerEvent) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

func (r *recorder) count(typ WorkerEventType) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// event is one decoded entry of the events stream.
type event map[string]string

func (b *bundle) events(t *testing.T) []event {
	t.Helper()
	xs, err := b.client.XRange(b.ctx, b.q.k.events(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]event, len(xs))
	for i, x := range xs {
		e := event{}
		for k, v := range x.Values {
			e[k], _ = v.(string)
		}
		out[i] = e
	}
	return out
}

// eventsFor lists the events about job id (plus jobless ones if all).
func (b *bundle) eventsOf(t *testing.T, id string) []string {
	var out []string
	for _, e := range b.events(t) {
		if e["jobId"] == id {
			s := e["event"]
			if p := e["prev"]; p != "" {
				s += "/" + p
			}
			out = append(out, s)
		}
	}
	return out
}

func (b *bundle) hash(t *testing.T, id string) map[string]string {
	t.Helper()
	return b.client.HGetAll(b.ctx, b.q.k.job(id)).Val()
}

func (b *bundle) state(t *testing.T, id string) JobState {
	t.Helper()
	s, err := b.q.GetState(b.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (b *bundle) waitState(t *testing.T, id string, want JobState) {
	t.Helper()
	waitFor(t, 10*time.Second, "job "+id+" in "+string(want), func() bool { return b.state(t, id) == want })
}

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// testLogger writes log lines to t.Log until the test's cleanup has run.
func testLogger(t *testing.T) *slog.Logger {
	lw := &logWriter{t: t}
	t.Cleanup(func() { lw.mu.Lock(); lw.done = true; lw.mu.Unlock() })
	return slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type logWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func redisZ(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }

func TestTrimArgs(t *testing.T) {
	t.Parallel()
	got := trimArgs(2, "p", int64(0), int64(5), int64(0), "", "")
	if len(got) != 3 {
		t.Errorf("trimArgs kept %d args, want 3 (trailing 0 and \"\" dropped): %v", len(got), got)
	}
	if got := trimArgs(2, "p", "", int64(0)); len(got) != 2 {
		t.Errorf("trimArgs dropped below keep: %v", got)
	}
	if got := trimArgs(1, "p", "x", "", 1.5); len(got) != 4 {
		t.Errorf("a non-string non-int64 last arg must stop trimming: %v", got)
	}
}
