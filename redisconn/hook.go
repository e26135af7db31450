package redisconn

import (
	"context"
	"net"

	"github.com/redis/go-redis/v9"
)

// hook logs dial failures at debug level (scrubbed) and, when a command
// fails with a connection error while the state is connected, wakes the
// probe so the state flips without waiting a full ProbeInterval.
type hook struct{ c *Conn }

func (h hook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		h.c.noteDial(err)
		if err != nil {
			h.c.log.Debug("[Redis] dial failed", "addr", addr, "error", h.c.scrub(Explain(err)))
		}
		return conn, err
	}
}

func (h hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && ctx.Value(probeKey{}) == nil && isConnError(err) {
			h.c.poke()
		}
		return err
	}
}

func (h hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err != nil && isConnError(err) {
			h.c.poke()
		}
		return err
	}
}
