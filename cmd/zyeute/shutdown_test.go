package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

// TestServeDrainWindow: after SIGTERM (ctx cancelled) and for SHUTDOWN_DRAIN,
// /readyz answers 503 while other requests still succeed; then serve stops.
func TestServeDrainWindow(t *testing.T) {
	t.Parallel()
	s := startServe(t, map[string]string{"SHUTDOWN_DRAIN": "2s"})
	stopped := make(chan error, 1)
	stopAt := time.Now()
	go func() { stopped <- s.stop() }()

	client := http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, error) {
		resp, err := client.Get(s.base + path)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, err := get("/readyz")
		if err == nil && code == 503 {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("/readyz never answered 503 during the drain (last: %d, %v)\n%s", code, err, s.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Still inside the window (it lasts 2s): other requests are served,
	// asking the client to close its connection.
	for _, path := range []string{"/api/health", "/livez"} {
		resp, err := client.Get(s.base + path)
		if err != nil {
			t.Errorf("%s during the drain: %v", path, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !resp.Close {
			t.Errorf("%s during the drain: %d, Connection: close %v", path, resp.StatusCode, resp.Close)
		}
	}
	if code, err := get("/readyz"); err != nil || code != 503 {
		t.Errorf("/readyz later in the drain: %d, %v", code, err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("serve returned %v", err)
	}
	if took := time.Since(stopAt); took < 2*time.Second {
		t.Errorf("serve stopped %s after the signal, before the 2s drain window ended", took)
	}
	if _, err := get("/livez"); err == nil {
		t.Error("the listener is still open after serve returned")
	}
	if logs := s.stderr.String(); !strings.Contains(logs, "drain=2s") {
		t.Errorf("logs lack the drain window:\n%s", logs)
	}
}

// blockingVideo is a video enhancer that blocks every job until release
// is closed; with honourCtx it returns as soon as its context is
// cancelled, else it ignores the context (a stuck handler).
type blockingVideo struct {
	honourCtx bool
	release   chan struct{}
	started   atomic.Int32
}

func (b *blockingVideo) Enhance(ctx context.Context, j *jobs.VideoEnhancementJob) (*jobs.VideoEnhancementResult, error) {
	b.started.Add(1)
	if b.honourCtx {
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-b.release:
		}
	} else {
		<-b.release
	}
	return &jobs.VideoEnhancementResult{VideoID: j.VideoID, Enhancer: "blocking"}, nil
}

// TestServeShutdownHandsBackJobs: jobs still running when SHUTDOWN_TIMEOUT
// expires are handed back to wait (not left active for the stalled check),
// whether their handler honours its context or not, and serve exits
// non-zero, as worker does.
func TestServeShutdownHandsBackJobs(t *testing.T) {
	t.Parallel()
	for _, honour := range []bool{true, false} {
		name := "stuck handler"
		if honour {
			name = "handler honouring ctx"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := redistest.Start(t, nil)
			prefix := redistest.KeyPrefix(t)
			video := &blockingVideo{honourCtx: honour, release: make(chan struct{})}
			var once sync.Once
			t.Cleanup(func() { once.Do(func() { close(video.release) }) })
			s := startServeWith(t, map[string]string{"REDIS_URL": r.URL(), "QUEUE_PREFIX": prefix, "WORKER_CONCURRENCY": "3",
				"SHUTDOWN_TIMEOUT": "500ms"}, &jobs.RegistryConfig{Handlers: jobs.Handlers{Video: video}})
			s.waitRedis(t, "connected", 10*time.Second)
			const n = 5
			for i := 0; i < n; i++ {
				enqueue(t, s, "video-enhancement", `{"data":{"video_id":"v`+string(rune('0'+i))+`","source_url":"https://cdn.example/v.mp4","duration_seconds":30}}`, 202)
			}
			ctx := context.Background()
			q, err := queue.NewQueue(r.Client(t), jobs.VideoEnhancement, &queue.QueueOptions{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for video.started.Load() < 3 {
				if time.Now().After(deadline) {
					t.Fatalf("only %d jobs started\n%s", video.started.Load(), s.stderr)
				}
				time.Sleep(10 * time.Millisecond)
			}
			err = s.stop()
			if code := exitCode(err); code == exitOK {
				t.Errorf("serve exited %d (err %v) though jobs had to be interrupted\n%s", code, err, s.stderr)
			}
			c, err := q.Counts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c.Active != 0 || c.Waiting != n || c.Completed != 0 || c.Failed != 0 {
				t.Errorf("after serve stopped: %+v, want all %d jobs waiting, none active\n%s", c, n, s.stderr)
			}
			if logs := s.stderr.String(); !strings.Contains(logs, "handed back") {
				t.Errorf("logs do not say the jobs were handed back:\n%s", logs)
			}
		})
	}
}

// TestServeWorkerLockAndStalledFromEnv: WORKER_LOCK_DURATION and
// WORKER_STALLED_INTERVAL reach the workers: a running job's lock and the
// queue's stalled-check key carry those TTLs (the defaults are 30s).
func TestServeWorkerLockAndStalledFromEnv(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t, nil)
	prefix := redistest.KeyPrefix(t)
	video := &blockingVideo{honourCtx: true, release: make(chan struct{})}
	var once sync.Once
	release := func() { once.Do(func() { close(video.release) }) }
	t.Cleanup(release)
	s := startServeWith(t, map[string]string{"REDIS_URL": r.URL(), "QUEUE_PREFIX": prefix,
		"WORKER_LOCK_DURATION": "4s", "WORKER_STALLED_INTERVAL": "3s"}, &jobs.RegistryConfig{Handlers: jobs.Handlers{Video: video}})
	s.waitRedis(t, "connected", 10*time.Second)
	doc := enqueue(t, s, "video-enhancement", `{"data":{"video_id":"v1","source_url":"https://cdn.example/v.mp4","duration_seconds":30}}`, 202)
	id := doc["id"].(string)
	c := r.Client(t)
	ctx := context.Background()
	base := prefix + ":" + jobs.VideoEnhancement
	deadline := time.Now().Add(10 * time.Second)
	for video.started.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("job never started\n%s", s.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	lock, err := c.PTTL(ctx, base+":"+id+":lock").Result()
	if err != nil || lock <= 0 || lock > 4*time.Second {
		t.Errorf("lock TTL %s (%v), want at most WORKER_LOCK_DURATION=4s", lock, err)
	}
	check, err := c.PTTL(ctx, base+":stalled-check").Result()
	if err != nil || check <= 0 || check > 3*time.Second {
		t.Errorf("stalled-check TTL %s (%v), want at most WORKER_STALLED_INTERVAL=3s", check, err)
	}
	release()
	s.waitJob(t, "video-enhancement", id, "completed")
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestServeWarnsWithoutPersistence: serve and worker warn when Redis keeps
// nothing across a restart (doctor's persistence check), not otherwise.
func TestServeWarnsWithoutPersistence(t *testing.T) {
	t.Parallel()
	const warning = "persistence is off (no AOF, no RDB save points): queued jobs are lost when Redis restarts"
	waitLog := func(t *testing.T, logs func() string, want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(logs(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("logs lack %q:\n%s", want, logs())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, tt := range []struct {
		name string
		args []string
		warn bool
		seen string // what the log says once the check has run
	}{
		{"off", nil, true, warning},
		{"aof", []string{"--appendonly", "yes"}, false, "persistence: AOF on"},
		{"rdb", []string{"--save", "60 1"}, false, "persistence: RDB snapshots (save 60 1)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := redistest.Start(t, &redistest.Options{Args: tt.args})
			vars := map[string]string{"REDIS_URL": r.URL(), "QUEUE_PREFIX": redistest.KeyPrefix(t), "LOG_LEVEL": "debug", "WORKERS": "false"}
			s := startServe(t, vars)
			waitLog(t, s.stderr.String, tt.seen)
			if err := s.stop(); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(s.stderr.String(), "level=WARN msg=\"[Redis] "+warning); got != tt.warn {
				t.Errorf("serve warned: %v, want %v\n%s", got, tt.warn, s.stderr)
			}

			// zyeute worker runs the same check.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stderr := &syncBuffer{}
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, []string{"worker", "--queues", "analytics"}, func(k string) string { return vars[k] }, io.Discard, stderr)
			}()
			waitLog(t, stderr.String, tt.seen)
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("worker: %v", err)
			}
			if got := strings.Contains(stderr.String(), "level=WARN msg=\"[Redis] "+warning); got != tt.warn {
				t.Errorf("worker warned: %v, want %v\n%s", got, tt.warn, stderr)
			}
		})
	}
}

// TestWorkerShutdownHandsBackStuckJobs: `zyeute worker` too hands back the
// jobs of a handler that ignores its context and exits non-zero.
func TestWorkerShutdownHandsBackStuckJobs(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t, nil)
	prefix := redistest.KeyPrefix(t)
	video := &blockingVideo{release: make(chan struct{})}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(video.release) }) })
	vars := map[string]string{"REDIS_URL": r.URL(), "QUEUE_PREFIX": prefix, "SHUTDOWN_TIMEOUT": "300ms", "WORKER_LOCK_DURATION": "20s"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		e := &env{getenv: func(k string) string { return vars[k] }, stdout: io.Discard, stderr: stderr,
			registry: &jobs.RegistryConfig{Handlers: jobs.Handlers{Video: video}}}
		done <- runEnv(ctx, e, []string{"worker", "--queues", "video-enhancement", "--concurrency", "2"})
	}()
	q, err := queue.NewQueue(r.Client(t), jobs.VideoEnhancement, &queue.QueueOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := q.Add(ctx, "enhance", map[string]any{"video_id": "v" + string(rune('0'+i)), "source_url": "https://cdn.example/v.mp4", "duration_seconds": 30}, jobs.DefaultAddOptions()); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for video.started.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("jobs not started\n%s", stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if exitCode(err) == exitOK {
			t.Errorf("worker exited 0 though jobs had to be interrupted\n%s", stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not stop")
	}
	c, err := q.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Active != 0 || c.Waiting != 3 {
		t.Errorf("after worker stopped: %+v, want 3 waiting, none active\n%s", c, stderr)
	}
	if logs := stderr.String(); !strings.Contains(logs, "lock_duration=20s stalled_interval=20s") {
		t.Errorf("worker log lacks its lock settings:\n%s", logs)
	}
}
