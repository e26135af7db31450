package jobs

import (
	"context"
	"embed"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Our stats script, written from the BullMQ protocol text (promote, retry
// and remove are queue's Job.Promote, Job.Retry and Queue.Remove).
//
//go:embed lua/*.lua
var luaFS embed.FS

func loadScript(name string) *redis.Script {
	b, err := luaFS.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic("jobs: missing embedded script " + name)
	}
	return redis.NewScript(string(b))
}

var scriptStats = loadScript("stats")

// runScript runs s (EVALSHA, EVAL on NOSCRIPT) and wraps errors with op.
func runScript(ctx context.Context, c redis.Scripter, s *redis.Script, op string, keys []string, args ...any) (any, error) {
	res, err := s.Run(ctx, c, keys, args...).Result()
	if err != nil {
		return nil, fmt.Errorf("jobs: %s: %w", op, err)
	}
	return res, nil
}
