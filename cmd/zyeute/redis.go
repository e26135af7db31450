package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/redisconn"
)

// redisNeeds says what a command needs of the Redis connection.
type redisNeeds struct {
	// required: Redis not configured is an error that exits 3, naming the
	// command, followed by why (may be empty).
	required bool
	why      string
	// monitor starts the background probe (for the process's lifetime,
	// until Close) and the persistence warning: long-running commands.
	monitor bool
	// logger receives the connection's logs; nil: discard (commands that
	// print their own report).
	logger *slog.Logger
	// timeout bounds the dial and each probe; 0: redisconn's defaults.
	timeout time.Duration
}

// connectRedis is the one Redis start-up of every command: it routes
// go-redis's global log (when main asked for it), builds the shared
// connection from the configuration, and applies needs. The caller closes
// the returned Conn.
func connectRedis(ctx context.Context, e *env, name string, cfg *config.Config, logger *slog.Logger, n redisNeeds) (*redisconn.Conn, error) {
	if e.redisLog != nil {
		e.redisLog(logger, cfg.Redis.Password.Reveal())
	}
	connLog := n.logger
	if connLog == nil {
		connLog = slog.New(slog.DiscardHandler)
	}
	conn, err := redisconn.New(cfg.Redis.Conn(), &redisconn.Options{Logger: connLog, ProbeTimeout: n.timeout, DialTimeout: n.timeout})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if n.required && !conn.Configured() {
		_ = conn.Close()
		return nil, notConfigured(name, n.why)
	}
	if n.monitor {
		if err := conn.Start(ctx); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		go warnNoPersistence(ctx, conn, connLog)
	}
	return conn, nil
}

// notConfigured is the exit-3 error of a command that needs Redis.
func notConfigured(name, why string) error {
	msg := name + ": Redis is not configured: set REDIS_URL or REDIS_HOST"
	if why != "" {
		msg += " (" + why + ")"
	}
	return &exitError{code: exitNotConfigured, err: fmt.Errorf("%s", msg)}
}
