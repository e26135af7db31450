package main

import (
	"context"
	"fmt"
	"time"

	"github.com/zyeute/zyeute-redis/redisconn"
)

func ping(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "ping", "ping [-timeout 5s]")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if done, err := parseFlags(fs, args); done {
		return err
	}
	if *timeout <= 0 {
		return &exitError{code: exitUsage, err: fmt.Errorf("ping: -timeout must be positive")}
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	// The Conn logs nothing here: ping prints its own report.
	conn, err := connectRedis(ctx, e, "ping", cfg, newLogger(cfg.Log, e.stderr), redisNeeds{timeout: *timeout})
	if err != nil {
		return err
	}
	defer conn.Close()

	fmt.Fprintf(e.stdout, "target:  %s\n", cfg.RedisTarget())
	st := conn.Check(ctx)
	if st.State == redisconn.Connected {
		// The first PING paid for the dial and handshake; measure again.
		st = conn.Check(ctx)
	}
	fmt.Fprintf(e.stdout, "state:   %s\n", st.State)
	switch st.State {
	case redisconn.Connected:
		fmt.Fprintf(e.stdout, "latency: %s\n", st.Latency.Round(time.Microsecond))
		fmt.Fprintf(e.stdout, "version: %s\n", st.Version)
		return nil
	case redisconn.NotConfigured:
		fmt.Fprintf(e.stdout, "message: %s\n", st.Message)
		return notConfigured("ping", "")
	default:
		fmt.Fprintf(e.stdout, "message: %s\n", st.Message)
		return &exitError{code: exitFailure, err: fmt.Errorf("redis unreachable: %s", st.Message)}
	}
}
