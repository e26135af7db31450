package redisconn

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// readOnlyLogEvery bounds the "READONLY, reconnecting" log to one line per
// interval.
const readOnlyLogEvery = 10 * time.Second

// hook logs dial failures at debug level (scrubbed) and, when a command
// fails with a connection error while the state is connected, wakes the
// probe so the state flips without waiting a full ProbeInterval.
//
// Outside Cluster mode it also re-runs a command (or pipeline) refused with
// READONLY: the pool may still hold connections to a master that was
// demoted without the client hearing of it (a missed +switch-master, a
// DNS name moved to the new primary). go-redis closes each connection that
// answers READONLY and its own retries are fewer than the pool size, so a
// full pool of stale connections would fail several commands in a row; the
// first fresh dial asks the Sentinels for the master and drops every stale
// connection. A READONLY reply means the server ran none of the writes, so
// running the command again is safe. Cluster clients handle READONLY
// themselves (slot map reload).
//
// In Cluster mode, a connection error, a timeout or CLUSTERDOWN/TRYAGAIN
// asks the cluster client to reload its slot map (CLUSTER SLOTS, at most
// once per 200ms): go-redis does so by itself only on MOVED/ASK or every
// 60s, so after a master dies (no MOVED from a dead node) every command
// for its slots would fail for up to a minute after the replica took
// over.
type hook struct{ c *Conn }

func (h hook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		h.c.noteDial(err)
		if err != nil {
			h.c.log.Debug("[Redis] dial failed", "addr", addr, "error", h.c.scrub(ExplainWith(err, h.c.advice)))
		}
		return conn, err
	}
}

func (h hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		for try := 1; h.c.retryReadOnly(ctx, try, err); try++ {
			cmd.SetErr(nil)
			err = next(ctx, cmd)
		}
		h.c.refreshTopology(err)
		if err != nil && ctx.Value(probeKey{}) == nil && IsConnError(err) {
			h.c.poke()
		}
		return err
	}
}

func (h hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for try := 1; h.c.retryReadOnly(ctx, try, err); try++ {
			for _, cmd := range cmds {
				cmd.SetErr(nil)
			}
			err = next(ctx, cmds)
		}
		h.c.refreshTopology(err)
		if err != nil && IsConnError(err) {
			h.c.poke()
		}
		return err
	}
}

// retryReadOnly reports whether a command that failed with err on attempt
// try (1-based) should run again: a READONLY refusal outside Cluster mode,
// at most often enough to drop every pooled connection.
func (c *Conn) retryReadOnly(ctx context.Context, try int, err error) bool {
	if err == nil || c.cfg.Mode == ModeCluster || !redis.IsReadOnlyError(err) || ctx.Err() != nil {
		return false
	}
	if try > c.readOnlyRetries {
		c.log.Warn("[Redis] Still READONLY after dropping every pooled connection: the server named master is a replica (failover in progress?)",
			"target", c.cfg.Target())
		return false
	}
	if try == 1 {
		c.noteReadOnly()
	}
	return true
}

// noteReadOnly logs, at most once per readOnlyLogEvery, that a demoted
// master answered and the client is reconnecting.
func (c *Conn) noteReadOnly() {
	c.mu.Lock()
	now := time.Now()
	due := now.Sub(c.readOnlyLogged) >= readOnlyLogEvery
	if due {
		c.readOnlyLogged = now
	}
	c.mu.Unlock()
	if due {
		c.log.Warn("[Redis] READONLY from a pooled connection (the master was demoted): reconnecting to the current master",
			"target", c.cfg.Target())
	}
}

// refreshTopology asks a cluster client to reload its slot map after err,
// when err says a node is gone or the cluster is reconfiguring.
func (c *Conn) refreshTopology(err error) {
	if err == nil || c.cfg.Mode != ModeCluster {
		return
	}
	var rerr redis.Error
	switch {
	case IsConnError(err), errors.Is(err, context.DeadlineExceeded):
	case errors.As(err, &rerr) && (strings.HasPrefix(rerr.Error(), "CLUSTERDOWN") || strings.HasPrefix(rerr.Error(), "TRYAGAIN")):
	default:
		return
	}
	if cc, ok := c.client.(*redis.ClusterClient); ok {
		cc.ReloadState(context.Background())
	}
}
