package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/zyeute/zyeute-redis/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, b)
	}
	return string(b)
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	workers := 2
	age := 12.5
	queuesErr := error(nil)
	m, err := New(prometheus.NewRegistry(), &Options{
		RedisStatus: func() (string, time.Duration) { return "connected", 3 * time.Millisecond },
		Queues: func(context.Context) ([]QueueSample, error) {
			return []QueueSample{{Queue: "analytics", Jobs: map[string]int64{"waiting": 4, "failed": 1}, Paused: true,
				Workers: &workers, OldestWaitingSeconds: &age, ActiveWithoutLock: 1}}, queuesErr
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	m.JobEnqueued("analytics", "queued")
	m.JobEnqueued("analytics", "sync")
	m.JobRun("analytics", "sync", 20*time.Millisecond, nil)
	m.JobRun("analytics", "queued", time.Second, errors.New("x"))
	m.JobFinished("analytics", "sync", "completed")
	m.JobFinished("analytics", "queued", "failed")
	m.JobFinished("analytics", "queued", "retrying")
	out := scrape(t, m)
	for _, want := range []string{
		`zyeute_jobs_enqueued_total{mode="queued",queue="analytics"} 1`,
		`zyeute_jobs_enqueued_total{mode="sync",queue="analytics"} 1`,
		`zyeute_jobs_completed_total{mode="sync",queue="analytics"} 1`,
		`zyeute_jobs_failed_total{mode="queued",queue="analytics"} 1`,
		`zyeute_job_events_total{event="retrying",mode="queued",queue="analytics"} 1`,
		`zyeute_job_duration_seconds_count{mode="queued",outcome="error",queue="analytics"} 1`,
		`zyeute_queue_jobs{queue="analytics",state="waiting"} 4`,
		`zyeute_queue_jobs{queue="analytics",state="active"} 0`,
		`zyeute_queue_paused{queue="analytics"} 1`,
		`zyeute_queue_workers{queue="analytics"} 2`,
		`zyeute_queue_oldest_waiting_seconds{queue="analytics"} 12.5`,
		`zyeute_queue_active_without_lock{queue="analytics"} 1`,
		`zyeute_queue_stats_up 1`,
		`zyeute_redis_state{state="connected"} 1`,
		`zyeute_redis_state{state="disconnected"} 0`,
		`zyeute_redis_probe_latency_seconds 0.003`,
		`go_goroutines `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	queuesErr = errors.New("down")
	if out := scrape(t, m); !strings.Contains(out, "zyeute_queue_stats_up 0") || strings.Contains(out, "zyeute_queue_jobs{") {
		t.Error("a failed stats read still exported queue gauges")
	}
	if _, err := New(nil, nil); err == nil {
		t.Error("nil registry accepted")
	}
}

func TestRedisHook(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	c := srv.Client(t)
	m, err := New(prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Connect first: the handshake's own commands are not part of the test.
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	c.AddHook(m.RedisHook())
	if err := c.Set(ctx, redistest.KeyPrefix(t)+"k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, redistest.KeyPrefix(t)+"missing").Err(); !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	_ = c.Do(ctx, "NOSUCHCMD").Err()
	_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Ping(ctx)
		p.Ping(ctx)
		return nil
	})
	out := scrape(t, m)
	for _, want := range []string{
		`zyeute_redis_commands_total{command="set"} 1`,
		`zyeute_redis_commands_total{command="get"} 1`,
		`zyeute_redis_commands_total{command="ping"} 2`,
		`zyeute_redis_command_errors_total{command="nosuchcmd"} 1`,
		`zyeute_redis_command_duration_seconds_count `, // a new connection's handshake counts too
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if strings.Contains(out, `zyeute_redis_command_errors_total{command="get"}`) {
		t.Error("a redis.Nil reply counted as an error")
	}
	if knownCommand("ev!l") != "other" || knownCommand(strings.Repeat("a", 40)) != "other" || knownCommand("EVALSHA") != "evalsha" {
		t.Error("knownCommand does not bound the label")
	}
}
