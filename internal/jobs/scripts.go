package jobs

import (
	"context"
	"embed"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Our admin and stats scripts, written from the BullMQ protocol text. A
// line `--@include "common"` is replaced by lua/common.lua.
//
//go:embed lua/*.lua
var luaFS embed.FS

func loadScript(name string) *redis.Script {
	b, err := luaFS.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic("jobs: missing embedded script " + name)
	}
	src := string(b)
	if strings.Contains(src, `--@include "common"`) {
		common, err := luaFS.ReadFile("lua/common.lua")
		if err != nil {
			panic("jobs: missing embedded script common")
		}
		src = strings.Replace(src, `--@include "common"`, string(common), 1)
	}
	return redis.NewScript(src)
}

var (
	scriptStats   = loadScript("stats")
	scriptPromote = loadScript("promote")
	scriptRetry   = loadScript("retry")
	scriptRemove  = loadScript("remove")
)

// runScript runs s (EVALSHA, EVAL on NOSCRIPT) and wraps errors with op.
func runScript(ctx context.Context, c redis.Scripter, s *redis.Script, op string, keys []string, args ...any) (any, error) {
	res, err := s.Run(ctx, c, keys, args...).Result()
	if err != nil {
		return nil, fmt.Errorf("jobs: %s: %w", op, err)
	}
	return res, nil
}
