package moderation

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/internal/redistest"
)

// BenchmarkHit compares a cached lookup (Cache.Moderate on a hit) with a raw
// GET of the same key on the same Redis, in the same run, with 1 and 50
// concurrent callers. Each sub-benchmark reports p50 and p99 latency in µs
// besides ns/op (the inverse of throughput).
//
//	go test -run '^$' -bench . -benchtime 2s ./moderation/
func BenchmarkHit(b *testing.B) {
	s := redistest.Start(b, nil)
	// The recommended client setting: go-redis applies context deadlines
	// itself, so the cache enforces RedisTimeout without a goroutine.
	opt := s.Options()
	opt.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opt)
	b.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	prefix := redistest.KeyPrefix(b) + ":moderation:v1:"
	cache, err := NewCache(rdb, mustRules(b), &CacheConfig{KeyPrefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	// A client with go-redis defaults (ContextTimeoutEnabled false): the
	// cache then guards each round trip with a goroutine.
	plain := s.Client(b)
	guarded, err := NewCache(plain, mustRules(b), &CacheConfig{KeyPrefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	// 50 distinct comments, each cached once.
	texts := make([]string, 50)
	keys := make([]string, 50)
	for i := range texts {
		texts[i] = fmt.Sprintf("Commentaire numéro %d : ostie que c'est beau, bravo!", i)
		if _, err := cache.Moderate(ctx, Content{Text: texts[i]}); err != nil {
			b.Fatal(err)
		}
		keys[i] = cache.cfg.KeyPrefix + ContentHash(Content{Text: texts[i]}, cache.info, cache.cfg.PolicyVersion)
		if r, _ := cache.Moderate(ctx, Content{Text: texts[i]}); !r.Cached {
			b.Fatal("setup: not a hit")
		}
	}

	// Under heavy machine load a lookup can exceed RedisTimeout; it is then
	// answered by the provider (a bypass), as designed. Such calls are
	// counted, reported as "bypass-%", and kept in the latencies.
	var calls, notHit atomic.Int64
	hit := func(i int) error {
		r, err := cache.Moderate(ctx, Content{Text: texts[i]})
		calls.Add(1)
		if err == nil && !r.Cached {
			notHit.Add(1)
		}
		return err
	}
	reportBypass := func(b *testing.B) {
		if n := calls.Swap(0); n > 0 {
			b.ReportMetric(100*float64(notHit.Swap(0))/float64(n), "bypass-%")
		}
	}
	get := func(i int) error { return rdb.Get(ctx, keys[i]).Err() }
	guardedHit := func(i int) error {
		r, err := guarded.Moderate(ctx, Content{Text: texts[i]})
		calls.Add(1)
		if err == nil && !r.Cached {
			notHit.Add(1)
		}
		return err
	}
	b.Run("cache-hit-guarded/callers=1/same-key", func(b *testing.B) {
		runLatency(b, 1, false, guardedHit)
		reportBypass(b)
	})
	b.Run("raw-get-plain-client/callers=1/same-key", func(b *testing.B) {
		runLatency(b, 1, false, func(i int) error { return plain.Get(ctx, keys[i]).Err() })
	})

	for _, callers := range []int{1, 50} {
		for _, distinct := range []bool{false, true} {
			if callers == 1 && distinct {
				continue
			}
			name := "same-key"
			if distinct {
				name = "distinct-keys"
			}
			b.Run(fmt.Sprintf("cache-hit/callers=%d/%s", callers, name), func(b *testing.B) {
				runLatency(b, callers, distinct, hit)
				reportBypass(b)
			})
			b.Run(fmt.Sprintf("raw-get/callers=%d/%s", callers, name), func(b *testing.B) { runLatency(b, callers, distinct, get) })
		}
	}
}

// runLatency runs op with the given number of concurrent callers (caller c
// uses key c when distinct, key 0 otherwise) and reports p50/p99.
func runLatency(b *testing.B, callers int, distinct bool, op func(i int) error) {
	var mu sync.Mutex
	var all []time.Duration
	var next int
	var nextMu sync.Mutex
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism(max(1, callers/procs))
	if callers == 1 {
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if err := op(0); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		reportPercentiles(b, lat)
		return
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		nextMu.Lock()
		idx := 0
		if distinct {
			idx = next % 50
		}
		next++
		nextMu.Unlock()
		lat := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			if err := op(idx); err != nil {
				b.Error(err)
				return
			}
			lat = append(lat, time.Since(t0))
		}
		mu.Lock()
		all = append(all, lat...)
		mu.Unlock()
	})
	b.StopTimer()
	reportPercentiles(b, all)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

func mustRules(b *testing.B) *RulesModerator {
	m, err := NewRulesModerator(nil)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkHitVsGetInterleaved alternates one cache hit and one raw GET of
// the same key on one caller, so that both see the same machine load (other
// processes on a shared machine move the absolute figures a lot). It reports
// both p50/p99 and the p50 ratio.
func BenchmarkHitVsGetInterleaved(b *testing.B) {
	s := redistest.Start(b, nil)
	opt := s.Options()
	opt.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opt)
	b.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	cache, err := NewCache(rdb, mustRules(b), &CacheConfig{KeyPrefix: redistest.KeyPrefix(b) + ":moderation:v1:"})
	if err != nil {
		b.Fatal(err)
	}
	content := Content{Text: "Commentaire : ostie que c'est beau, bravo!"}
	if _, err := cache.Moderate(ctx, content); err != nil {
		b.Fatal(err)
	}
	key := cache.cfg.KeyPrefix + ContentHash(content, cache.info, cache.cfg.PolicyVersion)
	hits := make([]time.Duration, 0, b.N)
	gets := make([]time.Duration, 0, b.N)
	notHit := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		r, err := cache.Moderate(ctx, content)
		t1 := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		if !r.Cached {
			notHit++
		}
		if err := rdb.Get(ctx, key).Err(); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		hits = append(hits, t1.Sub(t0))
		gets = append(gets, t2.Sub(t1))
	}
	b.StopTimer()
	slices.Sort(hits)
	slices.Sort(gets)
	p := func(l []time.Duration, q float64) float64 {
		return float64(l[min(len(l)-1, int(float64(len(l))*q))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(p(hits, 0.5), "hit-p50-µs")
	b.ReportMetric(p(hits, 0.99), "hit-p99-µs")
	b.ReportMetric(p(gets, 0.5), "get-p50-µs")
	b.ReportMetric(p(gets, 0.99), "get-p99-µs")
	b.ReportMetric(p(hits, 0.5)/p(gets, 0.5), "p50-ratio")
	b.ReportMetric(float64(notHit), "not-hits")
}
