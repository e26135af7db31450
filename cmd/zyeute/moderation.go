package main

import (
	"fmt"

	"github.com/zyeute/zyeute-redis/health"
	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/internal/httpapi"
	"github.com/zyeute/zyeute-redis/moderation"
	"github.com/zyeute/zyeute-redis/redisconn"
)

// wireModeration builds the configured provider behind the Redis cache and
// mounts POST /api/moderation and GET /api/admin/moderation/stats.
func wireModeration(a *app) error {
	mc := a.cfg.Moderation
	var provider moderation.Moderator
	switch mc.Provider {
	case config.ProviderOpenAI:
		p, err := moderation.NewOpenAIModerator(&moderation.OpenAIConfig{
			URL:    mc.APIURL.Reveal(),
			APIKey: mc.APIKey,
			Model:  mc.Model,
			Logger: a.logger,
		})
		if err != nil {
			return fmt.Errorf("moderation: %w", err)
		}
		provider = p
	default:
		p, err := moderation.NewRulesModerator(nil)
		if err != nil {
			return fmt.Errorf("moderation: %w", err)
		}
		provider = p
	}
	conn := a.redis
	cache, err := moderation.NewCache(redisClient(conn), provider, &moderation.CacheConfig{
		TTL:           mc.CacheTTL,
		MaxConcurrent: mc.MaxConcurrent,
		Available:     func() bool { return conn.State() == redisconn.Connected },
		Logger:        a.logger,
	})
	if err != nil {
		return fmt.Errorf("moderation: %w", err)
	}
	a.ai = aiReporter{cache: cache, conn: conn}
	a.routes = append(a.routes,
		httpapi.Route{Pattern: "POST /api/moderation", Handler: cache.Handler()},
		httpapi.Route{Pattern: "GET /api/admin/moderation/stats", Handler: cache.StatsHandler(), Admin: true},
	)
	return nil
}

// redisClient returns the shared client, or an untyped nil when Redis is
// not configured (a typed nil interface would look configured).
func redisClient(conn *redisconn.Conn) moderation.RedisClient {
	if c := conn.Client(); c != nil {
		return c
	}
	return nil
}

// aiReporter maps the cache's provider status to the health document.
type aiReporter struct {
	cache *moderation.Cache
	conn  *redisconn.Conn
}

func (r aiReporter) AIStatus() health.AIStatus {
	s := r.cache.AIStatus()
	out := health.AIStatus{Provider: s.Provider, Status: health.AIOK, Cache: "bypass"}
	if s.Status == moderation.AIStatusError {
		out.Status, out.Message = health.AIDegraded, s.LastError
	}
	if r.conn.State() == redisconn.Connected {
		out.Cache = "redis"
	}
	return out
}
