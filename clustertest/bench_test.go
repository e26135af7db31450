package clustertest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

// BenchmarkFiveQueues measures the throughput (jobs added in bulk, then
// processed by one worker of concurrency 8 per queue) of the five app
// queues on a cluster of 1 and of 3 masters, with one hash tag per queue
// so that the queues spread over the masters. It reports jobs/s and the
// Redis CPU seconds used per master. Run it alone:
//
//	go test -run '^$' -bench FiveQueues -benchtime 2000x ./clustertest/
//
// On a machine with fewer cores than masters + the Go process, the gain
// is bounded by CPU.
func BenchmarkFiveQueues(b *testing.B) {
	for _, masters := range []int{1, 3} {
		b.Run(fmt.Sprintf("masters=%d", masters), func(b *testing.B) {
			c := redistest.StartCluster(b, &redistest.ClusterOptions{Masters: masters, NoReplicas: true})
			rdb := c.Client(b)
			ctx := context.Background()
			prefix := "bench"
			var done atomic.Int64
			var workers []*queue.Worker
			var queues []*queue.Queue
			for _, name := range jobs.Names() {
				qn := "{" + name + "}"
				w, err := queue.NewWorker(rdb, qn, func(context.Context, *queue.Job) (any, error) {
					done.Add(1)
					return nil, nil
				}, &queue.WorkerOptions{Prefix: prefix, Concurrency: 8, DrainDelay: 100 * time.Millisecond,
					RemoveOnComplete: &queue.KeepJobs{Count: 100}})
				if err != nil {
					b.Fatal(err)
				}
				workers = append(workers, w)
				q, err := queue.NewQueue(rdb, qn, &queue.QueueOptions{Prefix: prefix})
				if err != nil {
					b.Fatal(err)
				}
				queues = append(queues, q)
			}
			cpu := func() []float64 {
				var out []float64
				for _, s := range c.Nodes {
					info, err := s.Client(b).Info(ctx, "cpu").Result()
					if err != nil {
						b.Fatal(err)
					}
					var sum float64
					for _, line := range strings.Split(info, "\n") {
						for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
							if v, ok := strings.CutPrefix(strings.TrimSpace(line), k); ok {
								f, _ := strconv.ParseFloat(v, 64)
								sum += f
							}
						}
					}
					out = append(out, sum)
				}
				return out
			}
			before := cpu()
			b.ResetTimer()
			start := time.Now()
			per := b.N/len(queues) + 1
			for _, q := range queues {
				for i := 0; i < per; i += 500 {
					var bulk []queue.BulkJob
					for j := i; j < min(i+500, per); j++ {
						bulk = append(bulk, queue.BulkJob{Name: "j", Data: j})
					}
					if _, err := q.AddBulk(ctx, bulk); err != nil {
						b.Fatal(err)
					}
				}
			}
			for _, w := range workers {
				if err := w.Start(ctx); err != nil {
					b.Fatal(err)
				}
			}
			total := int64(per * len(queues))
			for done.Load() < total {
				time.Sleep(5 * time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			after := cpu()
			b.ReportMetric(float64(total)/elapsed.Seconds(), "jobs/s")
			var parts []string
			for i := range after {
				parts = append(parts, fmt.Sprintf("%.2fs", after[i]-before[i]))
			}
			b.Logf("masters=%d: %d jobs in %s (%.0f jobs/s); Redis CPU per master: %s", masters, total, elapsed.Round(time.Millisecond),
				float64(total)/elapsed.Seconds(), strings.Join(parts, " "))
			for _, w := range workers {
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_ = w.Close(cctx)
				cancel()
			}
		})
	}
}
