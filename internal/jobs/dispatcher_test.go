package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/queue"
	"github.com/zyeute/zyeute-redis/redisconn"
)

const analyticsBatch = `{"events":[{"type":"view","video_id":"v1","watch_ms":700},{"type":"like","video_id":"v1","user_id":"u1"}]}`

// countingObserver records what a Dispatcher or Pool reports.
type countingObserver struct {
	mu     sync.Mutex
	counts map[string]int
}

func (o *countingObserver) add(k string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.counts == nil {
		o.counts = map[string]int{}
	}
	o.counts[k]++
}

func (o *countingObserver) get(k string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[k]
}

func (o *countingObserver) JobEnqueued(q, mode string) { o.add("enqueued/" + q + "/" + mode) }
func (o *countingObserver) JobRun(q, mode string, d time.Duration, err error) {
	o.add("run/" + q + "/" + mode)
}
func (o *countingObserver) JobFinished(q, mode, outcome string) {
	o.add(outcome + "/" + q + "/" + mode)
}

func TestEnqueueQueuedWithWorker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	obs := &countingObserver{}
	d, err := NewDispatcher(b.reg, b.conn, &DispatcherConfig{Prefix: b.prefix, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := d.Enqueue(ctx, Analytics, "batch", json.RawMessage(analyticsBatch), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != ModeQueued || res.ID == "" || res.Result != nil {
		t.Fatalf("result = %+v", res)
	}
	info, err := d.Job(ctx, Analytics, res.ID)
	if err != nil || info.State != "waiting" || info.Attempts != DefaultAttempts || info.Name != "batch" {
		t.Fatalf("before the worker: %+v, %v", info, err)
	}
	// The stored options are the registry defaults, bounded retention included.
	j, err := d.Queue(Analytics).GetJob(ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o := j.Opts; o.Attempts != 3 || o.Backoff == nil || o.Backoff.Type != "exponential" || o.Backoff.Delay != time.Second ||
		o.RemoveOnComplete == nil || o.RemoveOnComplete.Count != 1000 || o.RemoveOnFail == nil || o.RemoveOnFail.Count != 5000 {
		t.Errorf("stored opts = %s", j.RawOpts)
	}

	defer startPool(t, ctx, b.conn.Client(), b.reg, &PoolConfig{Queues: []string{Analytics}, Prefix: b.prefix, Concurrency: 2, Observer: obs})()
	waitFor(t, 15*time.Second, "job completed", func() bool {
		info, err = d.Job(ctx, Analytics, res.ID)
		return err == nil && info.State == "completed"
	})
	var sum AnalyticsSummary
	if err := json.Unmarshal(info.Result, &sum); err != nil || sum.Events != 2 || sum.WatchMS != 700 || sum.Videos[0].Likes != 1 {
		t.Errorf("result %s: %v", info.Result, err)
	}
	if info.FinishedAt == nil || info.ProcessedAt == nil || info.AttemptsMade != 1 {
		t.Errorf("info = %+v", info)
	}
	if obs.get("enqueued/analytics/queued") != 1 || obs.get("completed/analytics/queued") != 1 || obs.get("run/analytics/queued") != 1 {
		t.Errorf("observer = %v", obs.counts)
	}
	// An invalid payload that reached Redis anyway (another producer) fails
	// at once, without retries.
	bad, err := d.Queue(Analytics).Add(ctx, "bad", map[string]any{"events": "nope"}, DefaultAddOptions())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "bad job failed", func() bool {
		info, err = d.Job(ctx, Analytics, bad.ID)
		return err == nil && info.State == "failed"
	})
	if info.AttemptsMade != 1 || !strings.Contains(info.FailedReason, "field events") {
		t.Errorf("bad job = %+v", info)
	}
	if _, err := d.Job(ctx, Analytics, "nope"); !errors.Is(err, queue.ErrJobNotFound) {
		t.Errorf("unknown job: %v", err)
	}
}

func TestEnqueueNotConfigured(t *testing.T) {
	t.Parallel()
	conn := newConn(t, nil)
	reg, _ := NewRegistry(nil)
	obs := &countingObserver{}
	d, err := NewDispatcher(reg, conn, &DispatcherConfig{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := d.Enqueue(ctx, Analytics, "", json.RawMessage(analyticsBatch), &EnqueueOptions{Delay: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var sum AnalyticsSummary
	if res.Mode != ModeSync || res.ID != "" || res.Attempts != 1 || !res.DelayIgnored || res.Name != Analytics ||
		json.Unmarshal(res.Result, &sum) != nil || sum.Events != 2 {
		t.Errorf("result = %+v", res)
	}
	if obs.get("enqueued/analytics/sync") != 1 || obs.get("completed/analytics/sync") != 1 {
		t.Errorf("observer = %v", obs.counts)
	}
	if _, err := d.Job(ctx, Analytics, "1"); !errors.Is(err, ErrRedisUnavailable) || !strings.Contains(err.Error(), "not configured") {
		t.Errorf("Job: %v", err)
	}
	if _, err := d.Enqueue(ctx, "nope", "", json.RawMessage(`{}`), nil); !errors.Is(err, ErrUnknownQueue) {
		t.Errorf("unknown queue: %v", err)
	}
	if _, err := d.Enqueue(ctx, Analytics, "", json.RawMessage(`{"events":[{"type":"view"}]}`), nil); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("invalid payload: %v", err)
	}
	for _, o := range []*EnqueueOptions{{Attempts: 26}, {Delay: -time.Second}, {Priority: -1}, {JobID: "42"}, {JobID: "a b"}} {
		_, err := d.Enqueue(ctx, Analytics, "", json.RawMessage(analyticsBatch), o)
		var ve *ValidationError
		if !errors.As(err, &ve) || !strings.HasPrefix(ve.Field, "opts.") {
			t.Errorf("options %+v: %v", o, err)
		}
	}
	// With no Redis at all (nil), the same.
	d2, _ := NewDispatcher(reg, nil, nil)
	if res, err := d2.Enqueue(ctx, PrivacyAudit, "", json.RawMessage(`{"request_id":"r","user_id":"u","kind":"access"}`), nil); err != nil || res.Mode != ModeSync {
		t.Errorf("nil redis: %+v %v", res, err)
	}
}

// flakyAggregator fails its first n calls.
type flakyAggregator struct {
	fails atomic.Int32
	calls atomic.Int32
}

func (f *flakyAggregator) Aggregate(ctx context.Context, b *AnalyticsBatch) (*AnalyticsSummary, error) {
	f.calls.Add(1)
	if f.fails.Add(-1) >= 0 {
		return nil, errors.New("warehouse busy")
	}
	return LocalAnalyticsAggregator{}.Aggregate(ctx, b)
}

func TestSyncRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	agg := &flakyAggregator{}
	agg.fails.Store(2)
	reg, _ := NewRegistry(&RegistryConfig{Handlers: Handlers{Analytics: agg}})
	obs := &countingObserver{}
	d, _ := NewDispatcher(reg, nil, &DispatcherConfig{Observer: obs})
	start := time.Now()
	res, err := d.Enqueue(context.Background(), Analytics, "", json.RawMessage(analyticsBatch), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Two failures, then success; backoff 1 s then 2 s (BullMQ's exponential).
	if res.Attempts != 3 || agg.calls.Load() != 3 || time.Since(start) < 3*time.Second {
		t.Errorf("attempts %d, calls %d, after %s", res.Attempts, agg.calls.Load(), time.Since(start))
	}
	if obs.get("retrying/analytics/sync") != 2 || obs.get("completed/analytics/sync") != 1 || obs.get("run/analytics/sync") != 3 {
		t.Errorf("observer = %v", obs.counts)
	}

	// Attempts exhausted: a *JobFailedError with the last error.
	agg.fails.Store(5)
	agg.calls.Store(0)
	_, err = d.Enqueue(context.Background(), Analytics, "", json.RawMessage(analyticsBatch), &EnqueueOptions{Attempts: 1})
	var jf *JobFailedError
	if !errors.As(err, &jf) || jf.Attempts != 1 || agg.calls.Load() != 1 || !strings.Contains(err.Error(), "warehouse busy") {
		t.Errorf("exhausted: %v (calls %d)", err, agg.calls.Load())
	}

	// The sync timeout bounds retries: no waiting for a backoff past it.
	d3, _ := NewDispatcher(reg, nil, &DispatcherConfig{SyncTimeout: 300 * time.Millisecond})
	agg.calls.Store(0)
	_, err = d3.Enqueue(context.Background(), Analytics, "", json.RawMessage(analyticsBatch), &EnqueueOptions{Attempts: 5})
	if !errors.As(err, &jf) || jf.Attempts != 1 || !strings.Contains(err.Error(), "gave up waiting") {
		t.Errorf("timeout: %v", err)
	}
}

// alwaysConnected reports Connected whatever happens, to reach the "add
// failed with a connection error" path before the probe notices.
type alwaysConnected struct{ c redis.UniversalClient }

func (a alwaysConnected) Client() redis.UniversalClient { return a.c }
func (a alwaysConnected) State() redisconn.State        { return redisconn.Connected }

func TestEnqueueRedisKilledAndRestarted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	obs := &countingObserver{}
	d, _ := NewDispatcher(b.reg, b.conn, &DispatcherConfig{Prefix: b.prefix, Observer: obs})
	stale, _ := NewDispatcher(b.reg, alwaysConnected{b.conn.Client()}, &DispatcherConfig{Prefix: b.prefix, AddTimeout: time.Second})
	ctx := context.Background()
	data := json.RawMessage(`{"request_id":"r1","user_id":"u1","kind":"access"}`)
	if res, err := d.Enqueue(ctx, PrivacyAudit, "", data, nil); err != nil || res.Mode != ModeQueued {
		t.Fatalf("before kill: %+v %v", res, err)
	}

	b.srv.Kill()
	// The add itself fails with a connection error: run synchronously.
	res, err := stale.Enqueue(ctx, PrivacyAudit, "", data, nil)
	if err != nil || res.Mode != ModeSync || !strings.Contains(string(res.Result), `"respond_by"`) {
		t.Fatalf("add failing: %+v %v", res, err)
	}
	waitState(t, b.conn, redisconn.Disconnected, 10*time.Second)
	res, err = d.Enqueue(ctx, PrivacyAudit, "", data, nil)
	if err != nil || res.Mode != ModeSync {
		t.Fatalf("disconnected: %+v %v", res, err)
	}
	if _, err := d.Job(ctx, PrivacyAudit, "1"); !errors.Is(err, ErrRedisUnavailable) || !strings.Contains(err.Error(), "disconnected") {
		t.Errorf("Job while down: %v", err)
	}

	b.srv.Restart()
	waitState(t, b.conn, redisconn.Connected, 15*time.Second)
	res, err = d.Enqueue(ctx, PrivacyAudit, "", data, nil)
	if err != nil || res.Mode != ModeQueued || res.ID != "1" { // a fresh server: the counter restarts
		t.Fatalf("after restart: %+v %v", res, err)
	}
	if obs.get("enqueued/privacy-audit/queued") != 2 || obs.get("enqueued/privacy-audit/sync") != 1 {
		t.Errorf("observer = %v", obs.counts)
	}
}

// TestJobRanLogLine: every handler run writes one debug "[Jobs] job ran"
// line with its queue, mode, attempt and outcome, never the payload.
func TestJobRanLogLine(t *testing.T) {
	t.Parallel()
	logs := &bytes.Buffer{}
	agg := &flakyAggregator{}
	agg.fails.Store(1)
	reg, _ := NewRegistry(&RegistryConfig{Handlers: Handlers{Analytics: agg}})
	d, err := NewDispatcher(reg, nil, &DispatcherConfig{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Enqueue(context.Background(), Analytics, "nightly", json.RawMessage(analyticsBatch), nil); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{
		`msg="[Jobs] job ran" queue=analytics mode=sync name=nightly attempt=1 took=`,
		`outcome=error error="warehouse busy`,
		`msg="[Jobs] job ran" queue=analytics mode=sync name=nightly attempt=2 took=`,
		`outcome=ok`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	if strings.Count(out, `msg="[Jobs] job ran"`) != 2 || strings.Contains(out, `"events"`) {
		t.Errorf("want two job lines and no payload:\n%s", out)
	}
}
