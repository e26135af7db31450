package moderation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// RedisClient is what the cache needs from go-redis. redis.UniversalClient
// (a *redis.Client, *redis.ClusterClient or *redis.Ring) satisfies it.
type RedisClient interface {
	Get(ctx context.Context, key string) *redis.StringCmd
	Set(ctx context.Context, key string, value any, expiration time.Duration) *redis.StatusCmd
	Pipeline() redis.Pipeliner
}

// CacheConfig configures a Cache. The zero value is valid.
type CacheConfig struct {
	// TTL of a cached verdict. Defaults to 24h.
	TTL time.Duration
	// Jitter is the largest fraction of TTL removed at random from each
	// entry's TTL, so that entries written together do not expire together.
	// Must be in [0, 0.5]; a negative value means no jitter. Defaults to 0.05.
	Jitter float64
	// RedisTimeout bounds every Redis round trip of the cache, so that a dead
	// or stalled Redis does not stall moderation (the request then bypasses
	// the cache). Defaults to 250ms.
	RedisTimeout time.Duration
	// KeyPrefix of verdict keys: <KeyPrefix><sha256 hex>. Defaults to
	// "zyeute:moderation:v1:".
	KeyPrefix string
	// StatsKey is the Redis hash of fleet-wide counters. Defaults to
	// KeyPrefix + "stats".
	StatsKey string
	// PolicyVersion is Zyeuté's moderation policy version; it is part of the
	// key, so changing it drops every cached verdict without a flush.
	// Defaults to "1".
	PolicyVersion string
	// ProviderTimeout bounds one provider call made on behalf of callers
	// (the call outlives an impatient caller so its verdict can be cached).
	// Defaults to 60s.
	ProviderTimeout time.Duration
	// StatsFlushInterval is how often this process adds its counts to the
	// fleet-wide counters: the HINCRBYs ride in the pipeline of the first
	// lookup after the interval (and of every FleetStats call), so most hits
	// are a single GET. A negative value writes them with every lookup.
	// Defaults to 1s.
	StatsFlushInterval time.Duration
	// Available reports whether Redis is usable right now (wire it to the
	// shared connection state). When it returns false the cache is bypassed
	// without trying Redis. Defaults to nil: always try when a client is set.
	Available func() bool
	// MaxConcurrent bounds the requests Handler serves at once (reading the
	// body, judging, answering); one more is answered 503 with Retry-After
	// at once, without reading its body. It bounds the memory and CPU that
	// moderation requests can take together (a body may hold a 10 MiB
	// image). Defaults to DefaultMaxConcurrent; negative means no bound.
	// Cache.Moderate called directly is not bounded.
	MaxConcurrent int
	// Logger receives "Cache hit"/"Cache miss" at debug level (with the key
	// hash prefix, never the content) and rate-limited Redis warnings.
	// nil means slog.Default(), as everywhere in this module.
	Logger *slog.Logger
}

// Cache caches the verdicts of a provider in Redis. It is safe for
// concurrent use.
type Cache struct {
	rdb         RedisClient
	provider    Moderator
	info        ProviderInfo
	cfg         CacheConfig
	log         *slog.Logger
	ctxTimeouts bool // the client honours context deadlines itself

	sf singleflight.Group

	hits, misses, bypasses, errs, coalesced, redisErrs, providerCalls atomic.Int64
	// Fleet increments not yet written: flushed with a lookup at most every
	// StatsFlushInterval (and kept while Redis is down).
	pendLookups, pendBypasses, pendMisses, pendErrs atomic.Int64
	lastFlush                                       atomic.Int64 // unix nanoseconds

	ai atomic.Pointer[aiState]

	// slots has MaxConcurrent places (nil: no bound); busy counts the
	// requests refused because it was full.
	slots chan struct{}
	busy  atomic.Int64

	warnMu         sync.Mutex
	lastWarn       time.Time
	suppressedWarn int
}

type aiState struct {
	at  time.Time
	err string
}

// Result is a verdict and whether it came from the cache.
type Result struct {
	Verdict
	// Cached is true when the verdict was read from Redis.
	Cached bool `json:"cached"`
}

// Default cache settings.
const (
	DefaultTTL          = 24 * time.Hour
	DefaultJitter       = 0.05
	DefaultRedisTimeout = 250 * time.Millisecond
	DefaultKeyPrefix    = "zyeute:moderation:v1:"
	// DefaultMaxConcurrent is the default CacheConfig.MaxConcurrent: 16
	// requests, at most ~16 × 10 MiB of decoded images in memory at once.
	DefaultMaxConcurrent = 16
)

// NewCache builds a cache in front of provider. rdb may be nil: Redis not
// configured, every call goes to the provider (counted as a bypass). cfg may
// be nil for the defaults. The cache never closes rdb.
func NewCache(rdb RedisClient, provider Moderator, cfg *CacheConfig) (*Cache, error) {
	if provider == nil {
		return nil, fmt.Errorf("%w: provider is nil", ErrInvalidConfig)
	}
	c := CacheConfig{}
	if cfg != nil {
		c = *cfg
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	switch {
	case c.Jitter == 0:
		c.Jitter = DefaultJitter
	case c.Jitter < 0:
		c.Jitter = 0
	}
	if c.RedisTimeout == 0 {
		c.RedisTimeout = DefaultRedisTimeout
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.StatsKey == "" {
		c.StatsKey = c.KeyPrefix + "stats"
	}
	if c.PolicyVersion == "" {
		c.PolicyVersion = "1"
	}
	if c.ProviderTimeout == 0 {
		c.ProviderTimeout = 60 * time.Second
	}
	if c.StatsFlushInterval == 0 {
		c.StatsFlushInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.TTL < time.Millisecond:
		return nil, fmt.Errorf("%w: TTL must be at least 1ms, got %s", ErrInvalidConfig, c.TTL)
	case c.Jitter > 0.5:
		return nil, fmt.Errorf("%w: Jitter must be in [0, 0.5], got %v", ErrInvalidConfig, c.Jitter)
	case c.RedisTimeout < 0:
		return nil, fmt.Errorf("%w: RedisTimeout must be positive", ErrInvalidConfig)
	case c.ProviderTimeout < 0:
		return nil, fmt.Errorf("%w: ProviderTimeout must be positive", ErrInvalidConfig)
	}
	info := provider.Info()
	if info.Provider == "" {
		return nil, fmt.Errorf("%w: provider has no name", ErrInvalidConfig)
	}
	cache := &Cache{rdb: rdb, provider: provider, info: info, cfg: c, log: c.Logger}
	cache.ctxTimeouts = honoursContext(rdb)
	switch {
	case c.MaxConcurrent == 0:
		cache.slots = make(chan struct{}, DefaultMaxConcurrent)
	case c.MaxConcurrent > 0:
		cache.slots = make(chan struct{}, c.MaxConcurrent)
	}
	return cache, nil
}

// honoursContext reports whether the client applies context deadlines to its
// socket reads (go-redis ContextTimeoutEnabled). When it does not, the cache
// enforces RedisTimeout by waiting in a separate goroutine.
func honoursContext(rdb RedisClient) bool {
	switch c := rdb.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// Provider returns the provider behind the cache.
func (c *Cache) Provider() Moderator { return c.provider }

// Moderate returns the verdict for content, from Redis when cached, else
// from the provider (and then stores it). Concurrent identical requests share
// one provider call. Invalid content returns ErrEmptyContent,
// ErrAmbiguousContent, ErrContentTooLarge or ErrInvalidImageURL; a provider
// failure wraps ErrProvider. Redis problems never cause an error. The
// returned maps belong to the caller.
//
// The hot path (a hit) is one GET on the caller's goroutine; once per
// StatsFlushInterval the fleet counters (HINCRBY) ride in the same
// pipeline.
func (c *Cache) Moderate(ctx context.Context, content Content) (Result, error) {
	if err := content.validate(); err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	hash := ContentHash(content, c.info, c.cfg.PolicyVersion)
	key := c.cfg.KeyPrefix + hash
	useRedis := c.redisUsable()
	if useRedis {
		v, found, err := c.lookup(ctx, key, true)
		switch {
		case err != nil && ctx.Err() != nil:
			return Result{}, ctx.Err() // the caller gave up; Redis is not at fault
		case err != nil:
			c.redisFailed(ctx, "lookup", err)
			useRedis = false
		case found:
			c.hits.Add(1)
			c.log.LogAttrs(ctx, slog.LevelDebug, "Cache hit", slog.String("key", hash[:16]), slog.String("provider", c.info.Provider))
			return Result{Verdict: v, Cached: true}, nil
		}
	}

	// Miss or bypass: one provider call per content at a time.
	leader := false
	ch := c.sf.DoChan(hash, func() (any, error) {
		leader = true
		// The shared call must not die with the first caller's context.
		return c.resolve(context.WithoutCancel(ctx), content, hash, key, useRedis)
	})
	select {
	case <-ctx.Done():
		return Result{}, ctx.Err()
	case r := <-ch:
		if !leader {
			c.coalesced.Add(1)
		}
		if r.Err != nil {
			return Result{}, r.Err
		}
		res := r.Val.(Result)
		if !leader {
			if useRedis {
				c.hits.Add(1) // served without a provider call, after a lookup
			} else {
				c.bypasses.Add(1)
			}
			res.Categories = maps.Clone(res.Categories)
			res.Scores = maps.Clone(res.Scores)
		}
		return res, nil
	}
}

// lookup GETs key, counting the lookup fleet-wide when count is true. The
// pending fleet counters ride along (pipelined) once per StatsFlushInterval;
// otherwise a lookup is a single GET.
func (c *Cache) lookup(ctx context.Context, key string, count bool) (v Verdict, found bool, err error) {
	var get *redis.StringCmd
	flush := false
	if count {
		c.pendLookups.Add(1)
		flush = c.flushDue()
	}
	err = c.redisDo(ctx, func(ctx context.Context) error {
		if !flush {
			get = c.rdb.Get(ctx, key)
			if err := get.Err(); err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			return nil
		}
		pipe := c.rdb.Pipeline()
		get = pipe.Get(ctx, key)
		pend := c.takePending(ctx, pipe)
		_, err := pipe.Exec(ctx)
		if err != nil && !errors.Is(err, redis.Nil) {
			pend.restore(c)
			return err
		}
		return nil
	})
	if err != nil {
		return Verdict{}, false, err
	}
	raw, err := get.Bytes()
	if err != nil {
		return Verdict{}, false, nil // redis.Nil: not cached
	}
	if v, ok := decodeVerdict(raw); ok {
		return v, true, nil
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "Cache entry unreadable, treating it as a miss", slog.String("key", key[len(c.cfg.KeyPrefix):][:16]))
	return Verdict{}, false, nil
}

// flushDue reports whether this lookup should carry the pending fleet
// counters, and claims the flush if so.
func (c *Cache) flushDue() bool {
	if c.cfg.StatsFlushInterval < 0 {
		return true
	}
	now := time.Now().UnixNano()
	last := c.lastFlush.Load()
	return now-last >= int64(c.cfg.StatsFlushInterval) && c.lastFlush.CompareAndSwap(last, now)
}

// resolve is the shared call after a miss (useRedis) or for a bypass: check
// Redis again (an identical call may have just stored the verdict), call the
// provider, store the verdict.
func (c *Cache) resolve(ctx context.Context, content Content, hash, key string, useRedis bool) (Result, error) {
	if !useRedis {
		return c.bypass(ctx, content)
	}
	if v, found, err := c.lookup(ctx, key, false); err == nil && found {
		c.hits.Add(1)
		c.log.LogAttrs(ctx, slog.LevelDebug, "Cache hit", slog.String("key", hash[:16]), slog.String("provider", c.info.Provider))
		return Result{Verdict: v, Cached: true}, nil
	}
	c.misses.Add(1)
	c.log.LogAttrs(ctx, slog.LevelDebug, "Cache miss", slog.String("key", hash[:16]), slog.String("provider", c.info.Provider))

	v, perr := c.callProvider(ctx, content)
	c.pendMisses.Add(1)
	if perr != nil {
		c.pendErrs.Add(1)
		return Result{}, perr
	}
	raw, err := encodeVerdict(v)
	if err == nil {
		err = c.redisDo(ctx, func(ctx context.Context) error { return c.rdb.Set(ctx, key, raw, c.ttl()).Err() })
	}
	if err != nil {
		c.redisFailed(ctx, "store", err)
	}
	if perr != nil {
		return Result{}, perr
	}
	return Result{Verdict: v}, nil
}

// bypass calls the provider without Redis.
func (c *Cache) bypass(ctx context.Context, content Content) (Result, error) {
	c.bypasses.Add(1)
	if c.rdb != nil {
		c.pendBypasses.Add(1)
	}
	v, err := c.callProvider(ctx, content)
	if err != nil {
		if c.rdb != nil {
			c.pendErrs.Add(1)
		}
		return Result{}, err
	}
	return Result{Verdict: v}, nil
}

// callProvider calls the provider with ProviderTimeout and records the
// outcome for AIStatus.
func (c *Cache) callProvider(ctx context.Context, content Content) (Verdict, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ProviderTimeout)
	defer cancel()
	c.providerCalls.Add(1)
	v, err := c.provider.Moderate(ctx, content)
	st := &aiState{at: time.Now()}
	if err != nil {
		c.errs.Add(1)
		if !errors.Is(err, ErrProvider) {
			err = fmt.Errorf("%w: %s: %w", ErrProvider, c.info.Provider, err)
		}
		st.err = truncate(err.Error(), 300)
	}
	c.ai.Store(st)
	return v, err
}

func (c *Cache) redisUsable() bool {
	return c.rdb != nil && (c.cfg.Available == nil || c.cfg.Available())
}

// redisDo runs fn with RedisTimeout. If the client does not honour context
// deadlines itself, fn runs in a goroutine that is abandoned on timeout (it
// ends at the client's own read timeout).
func (c *Cache) redisDo(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RedisTimeout)
	if c.ctxTimeouts {
		defer cancel()
		return fn(ctx)
	}
	done := make(chan error, 1)
	go func() {
		defer cancel()
		done <- fn(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// fn may have finished (and cancelled ctx) before this select ran:
		// prefer its result.
		select {
		case err := <-done:
			return err
		default:
		}
		return fmt.Errorf("redis: no answer within %s", c.cfg.RedisTimeout)
	}
}

// redisFailed counts a Redis error and logs it, at most once per 10s.
func (c *Cache) redisFailed(ctx context.Context, op string, err error) {
	c.redisErrs.Add(1)
	c.warnMu.Lock()
	now := time.Now()
	if now.Sub(c.lastWarn) < 10*time.Second {
		c.suppressedWarn++
		c.warnMu.Unlock()
		return
	}
	suppressed := c.suppressedWarn
	c.lastWarn, c.suppressedWarn = now, 0
	c.warnMu.Unlock()
	c.log.LogAttrs(ctx, slog.LevelWarn, "Moderation cache: Redis error, calling the provider directly",
		slog.String("op", op), slog.String("error", err.Error()), slog.Int("suppressed", suppressed))
}

// pending is a set of fleet increments taken for one pipeline.
type pending struct{ lookups, bypasses, misses, errs int64 }

func (c *Cache) takePending(ctx context.Context, pipe redis.Pipeliner) pending {
	p := pending{c.pendLookups.Swap(0), c.pendBypasses.Swap(0), c.pendMisses.Swap(0), c.pendErrs.Swap(0)}
	for _, f := range []struct {
		field string
		n     int64
	}{{"lookups", p.lookups}, {"bypasses", p.bypasses}, {"misses", p.misses}, {"errors", p.errs}} {
		if f.n > 0 {
			pipe.HIncrBy(ctx, c.cfg.StatsKey, f.field, f.n)
		}
	}
	return p
}

func (p pending) restore(c *Cache) {
	c.pendLookups.Add(p.lookups)
	c.pendBypasses.Add(p.bypasses)
	c.pendMisses.Add(p.misses)
	c.pendErrs.Add(p.errs)
}

// ttl returns TTL minus up to Jitter of it.
func (c *Cache) ttl() time.Duration {
	j := time.Duration(float64(c.cfg.TTL) * c.cfg.Jitter)
	if j <= 0 {
		return c.cfg.TTL
	}
	return c.cfg.TTL - rand.N(j+1)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
