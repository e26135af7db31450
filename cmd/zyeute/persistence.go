package main

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/zyeute/zyeute-redis/doctor"
	"github.com/zyeute/zyeute-redis/redisconn"
)

// warnNoPersistence logs a warning once Redis is reachable when it persists
// nothing (no AOF, no RDB save points): queued jobs are then lost on a Redis
// restart and job ids start again from 1. The verdict is doctor's. It gives
// up when ctx ends; Redis being down at startup only delays the check.
func warnNoPersistence(ctx context.Context, conn *redisconn.Conn, logger *slog.Logger) {
	c := conn.Client()
	if c == nil {
		return
	}
	for conn.State() != redisconn.Connected {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var aof bool
	save, saveKnown := "", false
	if m, err := c.ConfigGet(cctx, "appendonly").Result(); err == nil && len(m) > 0 {
		aof = m["appendonly"] == "yes"
		if m, err := c.ConfigGet(cctx, "save").Result(); err == nil && len(m) > 0 {
			save, saveKnown = m["save"], true
		}
	} else {
		// CONFIG disabled or denied (managed services): INFO says whether
		// AOF is on; the RDB save points stay unknown.
		info, err := c.Info(cctx, "persistence").Result()
		if err != nil {
			logger.Debug("[Redis] could not read the persistence settings", "error", err.Error())
			return
		}
		aof = strings.Contains(info, "aof_enabled:1")
	}
	f := doctor.PersistenceFinding(aof, save, saveKnown)
	if f.Status == doctor.StatusWarn {
		logger.Warn("[Redis] "+f.Message, "target", conn.Target(), "fix", strings.ReplaceAll(f.Fix, "\n", " "))
		return
	}
	logger.Debug("[Redis] " + f.Message)
}
