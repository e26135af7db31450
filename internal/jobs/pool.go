package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/queue"
)

// ErrRedisNotConfigured: workers need Redis.
var ErrRedisNotConfigured = errors.New("jobs: workers need Redis: set REDIS_URL or REDIS_HOST")

// PoolConfig configures a Pool. A nil *PoolConfig means all defaults.
type PoolConfig struct {
	// Queues to work on. Defaults to every queue of the registry.
	Queues []string
	// Concurrency is the jobs run at once per queue. Defaults to 10.
	Concurrency int
	// Name of the workers (visible in CLIENT LIST, in the jobs' `pb` field
	// and in Node's getWorkers()). Defaults to WorkerName().
	Name string
	// Prefix is the BullMQ key prefix. Defaults to "bull".
	Prefix string
	// Logger receives the workers' lines, and handler panics (with their
	// stack) and abandoned handlers, and the per-job "[Jobs] job ran" line
	// at debug level. nil means slog.Default(), as everywhere in this
	// module.
	Logger *slog.Logger
	// Observer is told about every job. Defaults to none.
	Observer Observer
	// Worker holds extra queue.WorkerOptions (lock duration, stalled
	// interval, drain delay…); Prefix, Name, Concurrency, Logger, OnEvent,
	// RemoveOnComplete and RemoveOnFail are set by the pool. Defaults to
	// the queue package's defaults.
	Worker *queue.WorkerOptions
}

// WorkerName is "zyeute-<host>-<pid>", with the host name reduced to
// [A-Za-z0-9.-].
func WorkerName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, host)
	return "zyeute-" + truncate(host, 64) + "-" + strconv.Itoa(os.Getpid())
}

// ParseQueues splits a comma-separated list ("analytics,privacy-audit"),
// checks each name against the registry and drops duplicates. An empty
// list means every queue.
func (r *Registry) ParseQueues(list string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		if _, err := r.Spec(n); err != nil {
			return nil, err
		}
		seen[n] = true
		out = append(out, n)
	}
	if len(out) == 0 {
		return r.Names(), nil
	}
	return out, nil
}

// Pool runs one queue.Worker per queue, with the module's lifecycle
// vocabulary (the one of queue.Worker): Start(ctx) starts and returns, ctx
// bounding the start-up only; the pool runs until Close(ctx), ctx bounding
// how long running jobs may take to finish. Start and Close are safe to
// call twice; Start after Close returns queue.ErrClosed.
type Pool struct {
	workers []*queue.Worker
	names   []string
	log     *slog.Logger

	mu      sync.Mutex
	started bool
	stopped bool
}

// NewPool builds the workers (no I/O). c is the shared client, not owned;
// nil returns ErrRedisNotConfigured.
func NewPool(c redis.UniversalClient, reg *Registry, cfg *PoolConfig) (*Pool, error) {
	if c == nil {
		return nil, ErrRedisNotConfigured
	}
	if reg == nil {
		return nil, errors.New("jobs: nil registry")
	}
	var pc PoolConfig
	if cfg != nil {
		pc = *cfg
	}
	if len(pc.Queues) == 0 {
		pc.Queues = reg.Names()
	}
	if pc.Concurrency == 0 {
		pc.Concurrency = 10
	}
	if pc.Concurrency < 1 {
		return nil, fmt.Errorf("jobs: concurrency must be at least 1 (got %d)", pc.Concurrency)
	}
	if pc.Name == "" {
		pc.Name = WorkerName()
	}
	if pc.Prefix == "" {
		pc.Prefix = queue.DefaultPrefix
	}
	if pc.Logger == nil {
		pc.Logger = slog.Default()
	}
	obs := pc.Observer
	if obs == nil {
		obs = nopObserver{}
	}
	p := &Pool{log: pc.Logger}
	for _, name := range pc.Queues {
		h, err := reg.Handler(name)
		if err != nil {
			return nil, err
		}
		var wo queue.WorkerOptions
		if pc.Worker != nil {
			wo = *pc.Worker
		}
		wo.Prefix, wo.Name, wo.Concurrency, wo.Logger = pc.Prefix, pc.Name, pc.Concurrency, pc.Logger
		wo.RemoveOnComplete, wo.RemoveOnFail = queue.KeepLast(DefaultKeepComplete), queue.KeepLast(DefaultKeepFailed)
		qn := name
		log := pc.Logger
		wo.OnEvent = func(ev queue.WorkerEvent) {
			switch ev.Type {
			case queue.EventActive:
				// One line per handler run (debug): the chaos suite counts
				// executions per job from these, outside Redis.
				log.Debug("[Jobs] job started", "queue", qn, "id", ev.JobID)
			case queue.EventCompleted:
				log.Debug("[Jobs] job completed", "queue", qn, "id", ev.JobID)
				obs.JobFinished(qn, string(ModeQueued), "completed")
			case queue.EventFailed:
				obs.JobFinished(qn, string(ModeQueued), "failed")
			case queue.EventRetrying:
				obs.JobFinished(qn, string(ModeQueued), "retrying")
			case queue.EventStalled:
				obs.JobFinished(qn, string(ModeQueued), "stalled")
			case queue.EventLockLost:
				obs.JobFinished(qn, string(ModeQueued), "lock_lost")
			}
		}
		timed := func(ctx context.Context, j *queue.Job) (any, error) {
			start := time.Now()
			res, err := h(ctx, j)
			took := time.Since(start)
			obs.JobRun(qn, string(ModeQueued), took, err)
			logJobRun(ctx, log, ModeQueued, qn, j.ID, j.Name, j.AttemptsMade+1, took, err)
			logHandlerTrouble(log, reg, qn, j.ID, err)
			return res, err
		}
		w, err := queue.NewWorker(c, name, timed, &wo)
		if err != nil {
			return nil, fmt.Errorf("jobs: worker for %s: %w", name, err)
		}
		p.workers = append(p.workers, w)
		p.names = append(p.names, name)
	}
	return p, nil
}

// Queues lists the queues the pool works on.
func (p *Pool) Queues() []string { return append([]string(nil), p.names...) }

// Start starts every worker and returns; it needs no Redis round trip
// (while Redis is down the workers retry with backoff and recover on their
// own). ctx is not kept: the workers run until Close.
func (p *Pool) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return queue.ErrClosed
	}
	if p.started {
		return nil
	}
	p.started = true
	for i, w := range p.workers {
		if err := w.Start(ctx); err != nil {
			return fmt.Errorf("jobs: starting worker for %s: %w", p.names[i], err)
		}
	}
	p.log.Info("[Jobs] workers started", "queues", strings.Join(p.names, ","))
	return nil
}

// Close closes every worker in parallel: running jobs get until ctx is done
// to finish, then are handed back to their queue. Returns the joined
// errors (ctx's error when jobs had to be interrupted).
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	p.mu.Unlock()
	errs := make([]error, len(p.workers))
	var wg sync.WaitGroup
	for i, w := range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Close(ctx); err != nil {
				errs[i] = fmt.Errorf("worker %s: %w", p.names[i], err)
			}
		}()
	}
	wg.Wait()
	p.log.Info("[Jobs] workers stopped")
	return errors.Join(errs...)
}
