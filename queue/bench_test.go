package queue

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zyeute/zyeute-redis/internal/redistest"
)

func benchBundle(b *testing.B) (*redis.Client, *Queue, string) {
	b.Helper()
	srv := redistest.Start(b, nil)
	c := srv.Client(b)
	name := redistest.KeyPrefix(b)
	q, err := NewQueue(c, name, nil)
	if err != nil {
		b.Fatal(err)
	}
	return c, q, name
}

// infoInt reads one integer field of INFO.
func infoInt(b *testing.B, c *redis.Client, section, field string) int64 {
	for _, line := range strings.Split(c.Info(context.Background(), section).Val(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// roundTrips sums the client-sent commands (script internals excluded).
func roundTrips(c *redis.Client) int64 {
	var n int64
	for _, line := range strings.Split(c.Info(context.Background(), "commandstats").Val(), "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch name {
		case "cmdstat_evalsha", "cmdstat_eval", "cmdstat_bzpopmin":
			calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
			v, _ := strconv.ParseInt(calls, 10, 64)
			n += v
		}
	}
	return n
}

// BenchmarkProcess: time to process a pre-filled batch of jobs with a
// no-op handler, full BullMQ state written (events, markers, locks).
func BenchmarkProcess(b *testing.B) {
	const batch = 10000
	for _, conc := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("c=%d", conc), func(b *testing.B) {
			c, q, name := benchBundle(b)
			ctx := context.Background()
			jobs := make([]BulkJob, 1000)
			for i := range jobs {
				jobs[i] = BulkJob{Name: "bench", Data: map[string]int{"i": i}}
			}
			var elapsed time.Duration
			var cmds, trips int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				for n := 0; n < batch; n += len(jobs) {
					if _, err := q.AddBulk(ctx, jobs); err != nil {
						b.Fatal(err)
					}
				}
				var done atomic.Int64
				fin := make(chan struct{})
				w, err := NewWorker(c, name, func(context.Context, *Job) (any, error) {
					return nil, nil
				}, &WorkerOptions{Concurrency: conc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
					OnEvent: func(ev WorkerEvent) {
						if ev.Type == EventCompleted && done.Add(1) == batch {
							close(fin)
						}
					}})
				if err != nil {
					b.Fatal(err)
				}
				c0, t0 := infoInt(b, c, "stats", "total_commands_processed"), roundTrips(c)
				b.StartTimer()
				start := time.Now()
				_ = w.Start(ctx)
				select {
				case <-fin:
				case <-time.After(5 * time.Minute):
					b.Fatal("batch not processed")
				}
				elapsed += time.Since(start)
				b.StopTimer()
				cmds += infoInt(b, c, "stats", "total_commands_processed") - c0 - 2
				trips += roundTrips(c) - t0
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_ = w.Close(cctx)
				cancel()
				b.StartTimer()
			}
			total := float64(b.N * batch)
			b.ReportMetric(total/elapsed.Seconds(), "jobs/s")
			b.ReportMetric(float64(cmds)/total, "redis-cmds/job")
			b.ReportMetric(float64(trips)/total, "round-trips/job")
		})
	}
}

// BenchmarkAdd: one job per round trip.
func BenchmarkAdd(b *testing.B) {
	_, q, _ := benchBundle(b)
	ctx := context.Background()
	data := map[string]int{"i": 1}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := q.Add(ctx, "bench", data, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
}

// BenchmarkAddBulk: 1000 jobs per pipelined round trip.
func BenchmarkAddBulk(b *testing.B) {
	_, q, _ := benchBundle(b)
	ctx := context.Background()
	jobs := make([]BulkJob, 1000)
	for i := range jobs {
		jobs[i] = BulkJob{Name: "bench", Data: map[string]int{"i": i}}
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := q.AddBulk(ctx, jobs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(jobs))/time.Since(start).Seconds(), "jobs/s")
}
