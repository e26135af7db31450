package metrics

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// blocking commands wait on purpose; their time says nothing about Redis.
var blocking = map[string]bool{"bzpopmin": true, "bzpopmax": true, "blpop": true, "brpop": true, "brpoplpush": true,
	"blmove": true, "bzmpop": true, "blmpop": true, "xread": true, "xreadgroup": true, "wait": true}

// knownCommand keeps the command label bounded: names are lower-case
// letters only and at most 32 bytes, anything else is "other".
func knownCommand(name string) string {
	name = strings.ToLower(name)
	if name == "" || len(name) > 32 {
		return "other"
	}
	for _, r := range name {
		if r < 'a' || r > 'z' {
			return "other"
		}
	}
	return name
}

// RedisHook is a go-redis Hook counting commands, errors and latency.
// Add it to a client with AddHook.
func (m *Metrics) RedisHook() redis.Hook { return redisHook{m: m} }

type redisHook struct{ m *Metrics }

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		name := knownCommand(cmd.Name())
		h.m.redisCmds.WithLabelValues(name).Inc()
		if err != nil && !errors.Is(err, redis.Nil) {
			h.m.redisErrs.WithLabelValues(name).Inc()
		}
		if !blocking[name] {
			h.m.redisDuration.Observe(time.Since(start).Seconds())
		}
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		for _, c := range cmds {
			name := knownCommand(c.Name())
			h.m.redisCmds.WithLabelValues(name).Inc()
			if cerr := c.Err(); cerr != nil && !errors.Is(cerr, redis.Nil) {
				h.m.redisErrs.WithLabelValues(name).Inc()
			}
		}
		h.m.redisDuration.Observe(time.Since(start).Seconds())
		return err
	}
}
