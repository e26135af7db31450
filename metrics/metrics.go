// Package metrics exposes the service's Prometheus metrics on an injected
// registry (no global registry, no promauto): job counters and durations
// (it implements jobs.Observer), queue depth gauges read from a cached
// stats source at scrape time, the Redis connection state and probe
// latency, Redis command counters through a go-redis Hook, and the Go and
// process collectors.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace of every metric.
const Namespace = "zyeute"

// QueueSample is one queue's numbers for the gauges.
type QueueSample struct {
	Queue string
	// Jobs per state: "waiting", "active", "delayed", "prioritized",
	// "completed", "failed", "waiting-children".
	Jobs   map[string]int64
	Paused bool
	// Workers connected; nil when unknown.
	Workers *int
	// OldestWaitingSeconds; nil when nothing waits.
	OldestWaitingSeconds *float64
	ActiveWithoutLock    int64
}

// Options configure Metrics. A nil *Options means no scrape-time sources.
type Options struct {
	// RedisStatus, when set, is read at each scrape for the Redis state
	// ("connected", "disconnected", "not_configured") and the last probe
	// latency (0 when unknown). It must not block. Defaults to nil (no
	// Redis state metrics).
	RedisStatus func() (state string, latency time.Duration)
	// Queues, when set, is read at each scrape for the queue gauges; it
	// should be cached (scrapes must not cost Redis O(N)). Defaults to nil
	// (no queue gauges).
	Queues func(ctx context.Context) ([]QueueSample, error)
	// ScrapeTimeout bounds Queues. Defaults to 5s.
	ScrapeTimeout time.Duration
}

// Metrics holds the collectors. Its methods are safe for concurrent use.
type Metrics struct {
	reg  *prometheus.Registry
	opts Options

	enqueued  *prometheus.CounterVec
	completed *prometheus.CounterVec
	failed    *prometheus.CounterVec
	events    *prometheus.CounterVec
	duration  *prometheus.HistogramVec

	redisCmds     *prometheus.CounterVec
	redisErrs     *prometheus.CounterVec
	redisDuration prometheus.Histogram
}

// New registers the collectors on reg.
func New(reg *prometheus.Registry, opts *Options) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("metrics: nil registry")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.ScrapeTimeout == 0 {
		o.ScrapeTimeout = 5 * time.Second
	}
	m := &Metrics{reg: reg, opts: o}
	m.enqueued = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "jobs_enqueued_total",
		Help: "Jobs accepted, by queue and mode (queued: stored in Redis; sync: run in-process because Redis was unavailable; duplicate: the job_id existed, nothing stored)."},
		[]string{"queue", "mode"})
	m.completed = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "jobs_completed_total",
		Help: "Jobs completed, by queue and mode."}, []string{"queue", "mode"})
	m.failed = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "jobs_failed_total",
		Help: "Jobs failed for good (attempts exhausted or unrecoverable), by queue and mode."}, []string{"queue", "mode"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "job_events_total",
		Help: "Other job events: retrying, stalled, lock_lost, by queue and mode."}, []string{"queue", "mode", "event"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "job_duration_seconds",
		Help:    "Handler run time of one attempt, by queue, mode and outcome (ok, error).",
		Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}},
		[]string{"queue", "mode", "outcome"})
	m.redisCmds = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "redis_commands_total",
		Help: "Redis commands sent through the shared client, by command."}, []string{"command"})
	m.redisErrs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "redis_command_errors_total",
		Help: "Redis commands that failed (redis nil replies excluded), by command."}, []string{"command"})
	m.redisDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "redis_command_duration_seconds",
		Help:    "Round trip of one command or one pipeline through the shared client (blocking commands excluded).",
		Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}})
	cs := []prometheus.Collector{m.enqueued, m.completed, m.failed, m.events, m.duration, m.redisCmds, m.redisErrs, m.redisDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	if o.RedisStatus != nil {
		cs = append(cs, &redisCollector{f: o.RedisStatus})
	}
	if o.Queues != nil {
		cs = append(cs, &queueCollector{f: o.Queues, timeout: o.ScrapeTimeout})
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 8,
		Timeout:             10 * time.Second,
	})
}

// JobEnqueued implements jobs.Observer.
func (m *Metrics) JobEnqueued(queue, mode string) { m.enqueued.WithLabelValues(queue, mode).Inc() }

// JobRun implements jobs.Observer.
func (m *Metrics) JobRun(queue, mode string, d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.duration.WithLabelValues(queue, mode, outcome).Observe(d.Seconds())
}

// JobFinished implements jobs.Observer.
func (m *Metrics) JobFinished(queue, mode, outcome string) {
	switch outcome {
	case "completed":
		m.completed.WithLabelValues(queue, mode).Inc()
	case "failed":
		m.failed.WithLabelValues(queue, mode).Inc()
	default:
		m.events.WithLabelValues(queue, mode, outcome).Inc()
	}
}

var redisStates = []string{"connected", "disconnected", "not_configured"}

var (
	descRedisState   = prometheus.NewDesc(Namespace+"_redis_state", "1 for the current Redis connection state, 0 for the others.", []string{"state"}, nil)
	descRedisLatency = prometheus.NewDesc(Namespace+"_redis_probe_latency_seconds", "Round trip of the last successful PING probe (absent when not connected).", nil, nil)
)

type redisCollector struct {
	f func() (string, time.Duration)
}

func (c *redisCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRedisState
	ch <- descRedisLatency
}

func (c *redisCollector) Collect(ch chan<- prometheus.Metric) {
	state, lat := c.f()
	for _, s := range redisStates {
		v := 0.0
		if s == state {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descRedisState, prometheus.GaugeValue, v, s)
	}
	if state == "connected" && lat > 0 {
		ch <- prometheus.MustNewConstMetric(descRedisLatency, prometheus.GaugeValue, lat.Seconds())
	}
}

var (
	descQueueJobs     = prometheus.NewDesc(Namespace+"_queue_jobs", "Jobs in each state of a queue (from the cached queue stats).", []string{"queue", "state"}, nil)
	descQueuePaused   = prometheus.NewDesc(Namespace+"_queue_paused", "1 when the queue is paused.", []string{"queue"}, nil)
	descQueueWorkers  = prometheus.NewDesc(Namespace+"_queue_workers", "Workers (Go or Node) connected to the queue.", []string{"queue"}, nil)
	descQueueOldest   = prometheus.NewDesc(Namespace+"_queue_oldest_waiting_seconds", "Age of the job next in line (0 when nothing waits).", []string{"queue"}, nil)
	descQueueNoLock   = prometheus.NewDesc(Namespace+"_queue_active_without_lock", "Active jobs whose lock is gone (worker died or lost its lock).", []string{"queue"}, nil)
	descQueueStatsUp  = prometheus.NewDesc(Namespace+"_queue_stats_up", "1 when the queue stats could be read at this scrape.", nil, nil)
	queueStatesOrder  = []string{"waiting", "active", "delayed", "prioritized", "completed", "failed", "waiting-children"}
	queueCollectorAll = []*prometheus.Desc{descQueueJobs, descQueuePaused, descQueueWorkers, descQueueOldest, descQueueNoLock, descQueueStatsUp}
)

type queueCollector struct {
	f       func(context.Context) ([]QueueSample, error)
	timeout time.Duration
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range queueCollectorAll {
		ch <- d
	}
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	samples, err := c.f(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descQueueStatsUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descQueueStatsUp, prometheus.GaugeValue, 1)
	for _, s := range samples {
		for _, st := range queueStatesOrder {
			ch <- prometheus.MustNewConstMetric(descQueueJobs, prometheus.GaugeValue, float64(s.Jobs[st]), s.Queue, st)
		}
		paused := 0.0
		if s.Paused {
			paused = 1
		}
		ch <- prometheus.MustNewConstMetric(descQueuePaused, prometheus.GaugeValue, paused, s.Queue)
		if s.Workers != nil {
			ch <- prometheus.MustNewConstMetric(descQueueWorkers, prometheus.GaugeValue, float64(*s.Workers), s.Queue)
		}
		oldest := 0.0
		if s.OldestWaitingSeconds != nil {
			oldest = *s.OldestWaitingSeconds
		}
		ch <- prometheus.MustNewConstMetric(descQueueOldest, prometheus.GaugeValue, oldest, s.Queue)
		ch <- prometheus.MustNewConstMetric(descQueueNoLock, prometheus.GaugeValue, float64(s.ActiveWithoutLock), s.Queue)
	}
}
