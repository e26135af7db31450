package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/metrics"
	"github.com/zyeute/zyeute-redis/redisconn"
)

// newJobMetrics builds the service's metrics on a fresh registry: job
// counters (the returned Metrics is the jobs.Observer), Redis state and
// probe latency read from conn's cached status, queue gauges read from the
// cached stats (nil st: none), Go and process collectors.
func newJobMetrics(conn *redisconn.Conn, st *jobs.Stats) (*metrics.Metrics, error) {
	opts := &metrics.Options{
		RedisStatus: func() (string, time.Duration) {
			s := conn.Status()
			return string(s.State), s.Latency
		},
	}
	if st != nil {
		opts.Queues = func(ctx context.Context) ([]metrics.QueueSample, error) {
			snap, err := st.Snapshot(ctx)
			if err != nil {
				return nil, err
			}
			out := make([]metrics.QueueSample, 0, len(snap.Queues))
			for _, q := range snap.Queues {
				c := q.Counts
				out = append(out, metrics.QueueSample{
					Queue: q.Queue,
					Jobs: map[string]int64{"waiting": c.Waiting + c.Paused, "active": c.Active, "delayed": c.Delayed,
						"prioritized": c.Prioritized, "completed": c.Completed, "failed": c.Failed, "waiting-children": c.WaitingChildren},
					Paused: q.Paused, Workers: q.Workers, OldestWaitingSeconds: q.OldestWaitingAgeSeconds,
					ActiveWithoutLock: q.ActiveWithoutLock,
				})
			}
			return out, nil
		}
	}
	return metrics.New(prometheus.NewRegistry(), opts)
}
