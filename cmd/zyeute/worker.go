package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/internal/jobs"
)

func runWorker(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "worker", "worker [--queues video-enhancement,analytics,...] [--concurrency N]")
	queues := fs.String("queues", "", "comma-separated queues to work on (default: all: "+strings.Join(jobs.Names(), ",")+")")
	conc := fs.Int("concurrency", 0, "jobs run at once per queue (default: WORKER_CONCURRENCY, else 10)")
	if done, err := parseFlags(fs, args); done {
		return err
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	concurrency := cfg.Workers.Concurrency
	fs.Visit(func(fl *flag.Flag) { // given on the command line, 0 included
		if fl.Name == "concurrency" {
			concurrency = *conc
		}
	})
	if concurrency < 1 || concurrency > config.MaxWorkerConcurrency {
		return &exitError{code: exitUsage, err: fmt.Errorf("worker: --concurrency must be between 1 and %d, got %d", config.MaxWorkerConcurrency, concurrency)}
	}
	reg, err := jobs.NewRegistry(registryConfig(e.registry, cfg))
	if err != nil {
		return err
	}
	qs, err := reg.ParseQueues(*queues)
	if err != nil {
		msg := jobs.ClientMessage(err)
		if msg == "" {
			msg = err.Error()
		}
		return &exitError{code: exitUsage, err: fmt.Errorf("worker: --queues: %s", msg)}
	}
	logger := newLogger(cfg.Log, e.stderr)
	conn, err := connectRedis(ctx, e, "worker", cfg, logger, redisNeeds{required: true, monitor: true, logger: logger,
		why: "workers need Redis; without it serve runs jobs synchronously"})
	if err != nil {
		return err
	}
	defer conn.Close()
	// The application database: the analytics, memory and privacy jobs
	// write there (closed after the pool has stopped).
	st, err := openStore(ctx, cfg, logger)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer st.Close()
	if reg, err = jobs.NewRegistry(registryConfig(withStore(e.registry, st, cfg.Database.ExportDir, cfg.ChainRPC, conn.Client()), cfg)); err != nil {
		return err
	}
	name := jobs.WorkerName()
	pool, err := jobs.NewPool(conn.Client(), reg, &jobs.PoolConfig{Queues: qs, Concurrency: concurrency, Name: name,
		Prefix: cfg.QueuePrefix, Logger: logger, Worker: workerOptions(cfg)})
	if err != nil {
		return err
	}
	if err := pool.Start(ctx); err != nil {
		return err
	}
	logger.Info("worker running", "name", name, "queues", strings.Join(qs, ","), "concurrency", concurrency, "redis", conn.Target(),
		"lock_duration", cfg.Workers.LockDuration.String(), "stalled_interval", cfg.Workers.StalledInterval.String())
	<-ctx.Done()
	logger.Info("shutting down", "timeout", cfg.Shutdown.Timeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Shutdown.Timeout)
	defer cancel()
	if err := pool.Close(sctx); err != nil {
		logger.Warn("workers did not stop cleanly; interrupted jobs were handed back to their queues", "error", err.Error())
		return fmt.Errorf("worker: %w", err)
	}
	logger.Info("stopped")
	return nil
}
