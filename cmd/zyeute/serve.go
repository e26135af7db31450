package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/zyeute/zyeute-redis/health"
	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/internal/httpapi"
	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/store"
	"github.com/zyeute/zyeute-redis/redisconn"
)

// service is a long-running part started after the HTTP routes are built
// and closed after the HTTP server has drained (the worker pool). Its
// lifecycle is queue.Worker's: Start(ctx) starts and returns, ctx bounding
// the start-up only; Close(ctx) stops it, ctx bounding the wait.
type service interface {
	Start(ctx context.Context) error
	Close(ctx context.Context) error
}

// app is what serve assembles; the wire functions add to it.
type app struct {
	cfg    *config.Config
	logger *slog.Logger
	redis  *redisconn.Conn
	// store is the application database (open for serve's lifetime).
	store *store.Store

	// routes are mounted on the HTTP API (see httpapi.Route).
	routes []httpapi.Route
	// ai reports the moderation provider in /api/health; nil reports
	// {"provider":"rules","status":"ok"}.
	ai health.AIReporter
	// services are started in order and closed in reverse.
	services []service
	// registry configures the job handlers; nil means the local defaults
	// (tests plug in their own).
	registry *jobs.RegistryConfig
}

const serveUsage = `Usage: zyeute serve

Runs the HTTP API on PORT and, unless WORKERS=false, the queue workers.
serve has no flags: it is configured by environment variables, mainly
  REDIS_URL (or REDIS_HOST, REDIS_PORT…)   Redis; unset: degraded mode
  PORT (5000), ADMIN_TOKEN, JOBS_API_TOKEN   HTTP API and its tokens
  WORKERS (true), WORKER_CONCURRENCY (10)    in-process queue workers
  QUEUE_PREFIX (bull), DATABASE_URL or DATA_DIR, MODERATION_PROVIDER
  LOG_LEVEL, LOG_FORMAT, ACCESS_LOG (false)  logs; ACCESS_LOG=true logs each request
Run "zyeute doctor" to check the configuration.
`

func serve(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "serve", "serve")
	fs.Usage = func() { _, _ = io.WriteString(e.stderr, serveUsage) }
	if done, err := parseFlags(fs, args); done {
		return err
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.Log, e.stderr)
	logger.Info("zyeute starting", "version", versionString(), "port", cfg.HTTP.Port, "workers", cfg.Workers.Enabled)
	for _, n := range cfg.Notices {
		logger.Warn(n)
	}

	// The probe lives until Close, not until ctx: /api/health stays
	// truthful while the server drains.
	conn, err := connectRedis(ctx, e, "serve", cfg, logger, redisNeeds{monitor: true, logger: logger})
	if err != nil {
		return err
	}
	defer conn.Close()

	st, err := openStore(ctx, cfg, logger)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer st.Close() // after the services (deferred later) have stopped

	a := &app{cfg: cfg, logger: logger, redis: conn, store: st, registry: withStore(e.registry, st, cfg.Database.ExportDir, cfg.ChainRPC, conn.Client()), routes: storeRoutes(st, logger)}
	// What the service runs, in order: the job layer (routes, metrics,
	// and the worker pool as a service), moderation, the admin dashboard
	// (its live streams end when ctx does: shutdown has begun).
	if err := wireJobs(a); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if err := wireModeration(a); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if err := wireDashboard(ctx, a); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	checker, err := health.New(&health.Options{Redis: conn, AI: a.ai, Database: st})
	if err != nil {
		return err
	}
	handler, err := httpapi.NewHandler(httpapi.Deps{Logger: logger, AccessLog: cfg.Log.Access, Health: checker, AdminToken: cfg.AdminToken, Routes: a.routes,
		ServiceToken: cfg.JobsAPI.Token, ServiceAuth: cfg.JobsAPI.Auth})
	if err != nil {
		return err
	}

	// Services close with their own deadline, after HTTP has drained. The
	// error says that some did not stop cleanly (workers that had to
	// interrupt jobs, which they hand back to their queues).
	var started []service
	stopped := false
	stopServices := func() error {
		if stopped {
			return nil
		}
		stopped = true
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Shutdown.Timeout)
		defer cancel()
		var errs []error
		for i := len(started) - 1; i >= 0; i-- {
			if err := started[i].Close(sctx); err != nil {
				logger.Error("closing a service", "error", err.Error())
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, s := range a.services {
		if err := s.Start(ctx); err != nil {
			_ = stopServices()
			return fmt.Errorf("serve: starting a service: %w", err)
		}
		started = append(started, s)
	}
	defer func() { _ = stopServices() }()

	ln, err := net.Listen("tcp", cfg.HTTP.Addr())
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	// During the drain window every response asks its client to close the
	// connection, one response at a time. (SetKeepAlivesEnabled(false)
	// would close idle keep-alive connections at once, racing requests a
	// client is already sending on them: EOFs instead of answers.)
	var draining atomic.Bool
	inner := handler
	handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.Header().Set("Connection", "close")
		}
		inner.ServeHTTP(w, r)
	})
	srv := httpapi.NewServer(cfg.HTTP.Addr(), handler, &httpapi.ServerOptions{Logger: logger})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("HTTP API listening", "addr", ln.Addr().String(), "redis", conn.Target(), "jobs_api_auth", cfg.JobsAPI.Auth,
		"jobs_api_token", cfg.JobsAPI.Token.IsSet())

	var serveErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "drain", cfg.Shutdown.Drain.String(), "timeout", cfg.Shutdown.Timeout.String())
	case serveErr = <-errc:
		logger.Error("HTTP server failed", "error", serveErr.Error())
	}
	checker.SetDraining()
	if serveErr == nil && cfg.Shutdown.Drain > 0 {
		// Drain window: /readyz answers 503 while every other request is
		// still served, so load balancers take the instance out before the
		// listener closes. Responses ask clients to close their connection.
		draining.Store(true)
		select {
		case <-time.After(cfg.Shutdown.Drain):
		case serveErr = <-errc:
			logger.Error("HTTP server failed", "error", serveErr.Error())
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Shutdown.Timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("HTTP shutdown did not finish in time", "error", err.Error())
		_ = srv.Close()
	}
	stopErr := stopServices()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	if stopErr != nil {
		logger.Warn("services did not stop cleanly; interrupted jobs were handed back to their queues", "error", stopErr.Error())
		return fmt.Errorf("serve: %w", stopErr)
	}
	logger.Info("stopped")
	return nil
}
