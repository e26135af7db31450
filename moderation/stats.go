package moderation

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// LocalStats are this process's counters.
type LocalStats struct {
	// Hits: requests answered without calling the provider after a Redis
	// lookup: read from Redis, or shared with an identical in-flight call.
	Hits int64 `json:"hits"`
	// Misses: Redis lookups that found nothing, so the provider was called.
	Misses int64 `json:"misses"`
	// Bypasses: requests answered without the cache (Redis not configured,
	// unavailable, or failing): the provider was called directly.
	Bypasses int64 `json:"bypasses"`
	// Errors: provider calls that failed (never cached).
	Errors int64 `json:"errors"`
	// Coalesced: requests that shared the provider call of an identical
	// concurrent request (already counted in Hits or Bypasses).
	Coalesced int64 `json:"coalesced"`
	// RedisErrors: Redis round trips of the cache that failed or timed out.
	RedisErrors int64 `json:"redis_errors"`
	// ProviderCalls: calls made to the provider (misses + bypasses).
	ProviderCalls int64 `json:"provider_calls"`
	// Busy: HTTP requests answered 503 because MaxConcurrent requests were
	// already in progress.
	Busy int64 `json:"busy"`
	// HitRate is Hits / (Hits + Misses): the share of Redis lookups answered
	// from the cache. 0 when there were none.
	HitRate float64 `json:"hit_rate"`
}

// FleetStats are the counters of every process sharing the Redis, kept in
// the StatsKey hash.
type FleetStats struct {
	// Lookups: Redis lookups, one per request that reached Redis.
	Lookups int64 `json:"lookups"`
	// Hits is Lookups - Misses: lookups answered without a provider call.
	Hits     int64 `json:"hits"`
	Misses   int64 `json:"misses"`
	Bypasses int64 `json:"bypasses"`
	Errors   int64 `json:"errors"`
	// HitRate is Hits / Lookups.
	HitRate float64 `json:"hit_rate"`
}

// Stats is the document of GET /api/admin/moderation/stats.
type Stats struct {
	Provider string     `json:"provider"`
	Model    string     `json:"model"`
	TTL      string     `json:"ttl"`
	Redis    string     `json:"redis"` // "used", "not_configured" or "unavailable"
	Local    LocalStats `json:"local"`
	// Fleet is nil when Redis is not configured or could not be read.
	Fleet      *FleetStats `json:"fleet"`
	FleetError string      `json:"fleet_error,omitempty"`
}

// LocalStats returns this process's counters.
func (c *Cache) LocalStats() LocalStats {
	s := LocalStats{
		Hits:          c.hits.Load(),
		Misses:        c.misses.Load(),
		Bypasses:      c.bypasses.Load(),
		Errors:        c.errs.Load(),
		Coalesced:     c.coalesced.Load(),
		RedisErrors:   c.redisErrs.Load(),
		ProviderCalls: c.providerCalls.Load(),
		Busy:          c.busy.Load(),
	}
	if n := s.Hits + s.Misses; n > 0 {
		s.HitRate = float64(s.Hits) / float64(n)
	}
	return s
}

// FleetStats writes this process's pending counts and reads the fleet-wide
// counters (one pipelined round trip, RedisTimeout). Other processes write
// theirs at most every StatsFlushInterval, and keep them while Redis is
// down, so fleet figures lag by about that much.
func (c *Cache) FleetStats(ctx context.Context) (FleetStats, error) {
	if c.rdb == nil {
		return FleetStats{}, errors.New("redis not configured")
	}
	var m map[string]string
	err := c.redisDo(ctx, func(ctx context.Context) error {
		// Write this process's pending counts first, in the same round trip.
		pipe := c.rdb.Pipeline()
		pend := c.takePending(ctx, pipe)
		all := pipe.HGetAll(ctx, c.cfg.StatsKey)
		if _, err := pipe.Exec(ctx); err != nil {
			pend.restore(c)
			return err
		}
		m = all.Val()
		return nil
	})
	if err != nil {
		return FleetStats{}, err
	}
	n := func(k string) int64 { v, _ := strconv.ParseInt(m[k], 10, 64); return v }
	f := FleetStats{Lookups: n("lookups"), Misses: n("misses"), Bypasses: n("bypasses"), Errors: n("errors")}
	f.Hits = max(0, f.Lookups-f.Misses)
	if f.Lookups > 0 {
		f.HitRate = float64(f.Hits) / float64(f.Lookups)
	}
	return f, nil
}

// Stats returns local and fleet counters.
func (c *Cache) Stats(ctx context.Context) Stats {
	s := Stats{Provider: c.info.Provider, Model: c.info.Model, TTL: c.cfg.TTL.String(), Local: c.LocalStats()}
	switch {
	case c.rdb == nil:
		s.Redis = "not_configured"
		s.FleetError = "redis not configured"
		return s
	case !c.redisUsable():
		s.Redis = "unavailable"
		s.FleetError = "redis unavailable"
		return s
	}
	s.Redis = "used"
	f, err := c.FleetStats(ctx)
	if err != nil {
		s.FleetError = "reading fleet counters: " + err.Error()
		return s
	}
	s.Fleet = &f
	return s
}

// AIStatus is the "ai" section of /api/health.
type AIStatus struct {
	Provider string `json:"provider"`
	Model    string `json:"model"`
	// Status is "ok" (last provider call succeeded, or the provider is local
	// and has not failed), "error" (last call failed) or "unknown" (no call
	// yet to a remote provider).
	Status string `json:"status"`
	// LastError is the last call's error, without secrets; empty when ok.
	LastError string `json:"last_error,omitempty"`
	// LastCall is when the provider was last called; zero if never.
	LastCall time.Time `json:"last_call,omitzero"`
}

// Provider statuses.
const (
	AIStatusOK      = "ok"
	AIStatusError   = "error"
	AIStatusUnknown = "unknown"
)

// AIStatus reports the provider's state from the last call made through the
// cache. It does no I/O.
func (c *Cache) AIStatus() AIStatus {
	s := AIStatus{Provider: c.info.Provider, Model: c.info.Model, Status: AIStatusUnknown}
	if c.info.Local {
		s.Status = AIStatusOK
	}
	if st := c.ai.Load(); st != nil {
		s.LastCall = st.at
		if st.err != "" {
			s.Status, s.LastError = AIStatusError, st.err
		} else {
			s.Status = AIStatusOK
		}
	}
	return s
}
