package main

import (
	"fmt"

	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/internal/httpapi"
	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/queue"
)

// wireJobs plugs the job layer into serve: the dispatcher (queued, or
// synchronous in degraded mode) behind POST/GET /api/jobs, the cached
// admin stats, GET /metrics, and the workers when WORKERS is true and
// Redis is configured.
func wireJobs(a *app) error {
	reg, err := jobs.NewRegistry(registryConfig(a.registry, a.cfg))
	if err != nil {
		return err
	}
	stats, err := jobs.NewStats(a.redis, reg.Names(), &jobs.StatsConfig{Prefix: a.cfg.QueuePrefix})
	if err != nil {
		return err
	}
	m, err := newJobMetrics(a.redis, stats)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if c := a.redis.Client(); c != nil {
		c.AddHook(m.RedisHook())
	}
	d, err := jobs.NewDispatcher(reg, a.redis, &jobs.DispatcherConfig{Prefix: a.cfg.QueuePrefix, Logger: a.logger, Observer: m})
	if err != nil {
		return err
	}
	a.routes = append(a.routes, jobs.Routes(d, stats, a.logger)...)
	a.routes = append(a.routes, httpapi.Route{Pattern: "GET /metrics", Handler: m.Handler()})

	if !a.cfg.Workers.Enabled {
		a.logger.Info("[Jobs] workers disabled (WORKERS=false): run `zyeute worker` elsewhere")
		return nil
	}
	if a.redis.Client() == nil {
		a.logger.Warn("[Jobs] Redis not configured: workers not started, jobs run synchronously in-process")
		return nil
	}
	pool, err := jobs.NewPool(a.redis.Client(), reg, &jobs.PoolConfig{
		Concurrency: a.cfg.Workers.Concurrency, Prefix: a.cfg.QueuePrefix, Logger: a.logger, Observer: m,
		Worker: workerOptions(a.cfg),
	})
	if err != nil {
		return err
	}
	a.services = append(a.services, pool)
	return nil
}

// workerOptions carries the environment's lock duration and stalled
// interval to the queue workers (jobs.PoolConfig.Worker).
func workerOptions(cfg *config.Config) *queue.WorkerOptions {
	return &queue.WorkerOptions{LockDuration: cfg.Workers.LockDuration, StalledInterval: cfg.Workers.StalledInterval}
}
