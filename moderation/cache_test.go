package moderation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestCacheMissThenHit(t *testing.T) {
	t.Parallel()
	f := newFakeOpenAI(t)
	b := setup(t, newOpenAI(t, f, nil), nil)
	ctx := context.Background()
	text := "  this is bad, really  "

	r1 := mustModerate(t, b.cache, Content{Text: text})
	if r1.Cached || !r1.Flagged || r1.Provider != "openai" || r1.Model != "omni-moderation-latest" {
		t.Fatalf("first result = %+v, want an uncached flagged openai verdict", r1)
	}
	r2 := mustModerate(t, b.cache, Content{Text: "this is bad, really"}) // same after trimming
	if !r2.Cached || !r2.Flagged || r2.Scores["harassment"] != 0.97 || !r2.Categories["harassment"] {
		t.Fatalf("second result = %+v, want the cached verdict", r2)
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("provider calls = %d, want 1", n)
	}

	// The key has the documented shape and a jittered TTL close to 24h.
	keys, err := b.rdb.Keys(ctx, b.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var verdictKey string
	for _, k := range keys {
		if regexp.MustCompile(`^` + regexp.QuoteMeta(b.prefix) + `[0-9a-f]{64}$`).MatchString(k) {
			verdictKey = k
		}
	}
	if verdictKey == "" || len(keys) != 2 { // verdict + stats hash
		t.Fatalf("keys = %v, want one verdict key and the stats hash", keys)
	}
	wantHash := ContentHash(Content{Text: text}, b.cache.info, "1")
	if verdictKey != b.prefix+wantHash {
		t.Fatalf("verdict key = %s, want %s", verdictKey, b.prefix+wantHash)
	}
	ttl := b.rdb.PTTL(ctx, verdictKey).Val()
	if ttl > DefaultTTL || ttl < DefaultTTL-time.Duration(float64(DefaultTTL)*DefaultJitter)-time.Minute {
		t.Fatalf("TTL = %s, want within 5%% below 24h", ttl)
	}
	var stored map[string]any
	if err := json.Unmarshal([]byte(b.rdb.Get(ctx, verdictKey).Val()), &stored); err != nil || stored["v"] != float64(1) {
		t.Fatalf("stored value %v (err %v), want JSON with v=1", stored, err)
	}

	st := b.cache.Stats(ctx)
	if st.Local.Hits != 1 || st.Local.Misses != 1 || st.Local.Bypasses != 0 || st.Local.HitRate != 0.5 {
		t.Fatalf("local stats = %+v", st.Local)
	}
	if st.Fleet == nil || st.Fleet.Lookups != 2 || st.Fleet.Hits != 1 || st.Fleet.Misses != 1 || st.Fleet.HitRate != 0.5 {
		t.Fatalf("fleet stats = %+v (%s)", st.Fleet, st.FleetError)
	}

	logs := b.logs.String()
	if !strings.Contains(logs, "Cache hit") || !strings.Contains(logs, wantHash[:16]) {
		t.Fatalf("no debug \"Cache hit\" line with the key prefix in logs:\n%s", logs)
	}
	if strings.Contains(logs, "really") {
		t.Fatalf("logs contain the content:\n%s", logs)
	}
}

func TestCacheTTLExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t, rulesProvider(t), func(c *CacheConfig) { c.TTL = 300 * time.Millisecond; c.Jitter = -1 })
	c := Content{Text: "mange d'la marde"}
	if r := mustModerate(t, b.cache, c); r.Cached || !r.Flagged {
		t.Fatalf("first = %+v", r)
	}
	if r := mustModerate(t, b.cache, c); !r.Cached {
		t.Fatalf("second = %+v, want cached", r)
	}
	key := b.prefix + ContentHash(c, b.cache.info, "1")
	if ttl := b.rdb.PTTL(context.Background(), key).Val(); ttl <= 0 || ttl > 300*time.Millisecond {
		t.Fatalf("PTTL = %s, want in (0, 300ms]", ttl)
	}
	waitFor(t, "the entry to expire", 5*time.Second, func() bool {
		return b.rdb.Exists(context.Background(), key).Val() == 0
	})
	if r := mustModerate(t, b.cache, c); r.Cached {
		t.Fatalf("after expiry = %+v, want a miss", r)
	}
	if s := b.cache.LocalStats(); s.Misses != 2 || s.Hits != 1 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestCacheConcurrentIdenticalRequestsOneProviderCall(t *testing.T) {
	t.Parallel()
	f := newFakeOpenAI(t)
	release := make(chan struct{})
	f.setRespond(func(n int64, w http.ResponseWriter, req fakeRequest) {
		<-release // hold the first call so that the others pile up
		writeFakeVerdict(w, req, true)
	})
	b := setup(t, newOpenAI(t, f, nil), nil)
	const n = 50
	var wg sync.WaitGroup
	results := make([]Result, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = b.cache.Moderate(context.Background(), Content{Text: "bad words"})
		}()
	}
	close(start)
	waitFor(t, "the provider call", 5*time.Second, func() bool { return f.calls.Load() >= 1 })
	close(release)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || !results[i].Flagged {
			t.Fatalf("request %d: %+v, %v", i, results[i], errs[i])
		}
	}
	if got := f.calls.Load(); got != 1 {
		t.Fatalf("provider calls = %d, want exactly 1", got)
	}
	s := b.cache.LocalStats()
	if s.Misses != 1 || s.ProviderCalls != 1 || s.Hits != n-1 || s.Coalesced > n-1 {
		t.Fatalf("stats = %+v, want 1 miss and %d hits", s, n-1)
	}
}

func TestCacheProviderErrorNotCachedAndRetriesBounded(t *testing.T) {
	t.Parallel()
	f := newFakeOpenAI(t)
	f.setRespond(func(n int64, w http.ResponseWriter, req fakeRequest) {
		http.Error(w, `{"error":{"message":"upstream exploded"}}`, http.StatusInternalServerError)
	})
	b := setup(t, newOpenAI(t, f, nil), nil)
	ctx := context.Background()
	c := Content{Text: "hello"}
	_, err := b.cache.Moderate(ctx, c)
	if !errors.Is(err, ErrProvider) || !strings.Contains(err.Error(), "status 500") || !strings.Contains(err.Error(), "attempt 3/3") {
		t.Fatalf("err = %v, want a provider error after 3 attempts with status 500", err)
	}
	if got := f.calls.Load(); got != 3 {
		t.Fatalf("provider HTTP calls = %d, want 3 (MaxAttempts)", got)
	}
	if n := b.rdb.Exists(ctx, b.prefix+ContentHash(c, b.cache.info, "1")).Val(); n != 0 {
		t.Fatal("a provider error was cached")
	}
	// Not cached: the next request calls the provider again.
	if _, err := b.cache.Moderate(ctx, c); !errors.Is(err, ErrProvider) {
		t.Fatalf("second err = %v", err)
	}
	if got := f.calls.Load(); got != 6 {
		t.Fatalf("provider HTTP calls = %d, want 6", got)
	}
	if s := b.cache.LocalStats(); s.Errors != 2 || s.Misses != 2 || s.Hits != 0 {
		t.Fatalf("local stats = %+v", s)
	}
	fs, err := b.cache.FleetStats(ctx)
	if err != nil || fs.Errors != 2 || fs.Misses != 2 || fs.Hits != 0 {
		t.Fatalf("fleet stats = %+v, %v", fs, err)
	}
	if st := b.cache.AIStatus(); st.Status != AIStatusError || !strings.Contains(st.LastError, "status 500") || st.LastCall.IsZero() {
		t.Fatalf("AIStatus = %+v", st)
	}
	// The provider recovers: the next call succeeds and is cached.
	f.setRespond(nil)
	if r := mustModerate(t, b.cache, c); r.Cached || r.Flagged {
		t.Fatalf("after recovery = %+v", r)
	}
	if st := b.cache.AIStatus(); st.Status != AIStatusOK || st.LastError != "" {
		t.Fatalf("AIStatus after recovery = %+v", st)
	}
	if r := mustModerate(t, b.cache, c); !r.Cached {
		t.Fatalf("after recovery second = %+v, want cached", r)
	}
}

func TestCacheMalformedProviderResponse(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"not JSON":   `{"results": [ {"flagged": tru`,
		"no results": `{"id":"x","results":[]}`,
		"wrong type": `{"results":[{"flagged":"yes","categories":{}}]}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeOpenAI(t)
			f.setRespond(func(n int64, w http.ResponseWriter, req fakeRequest) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(body))
			})
			b := setup(t, newOpenAI(t, f, nil), nil)
			c := Content{Text: "hello"}
			_, err := b.cache.Moderate(context.Background(), c)
			if !errors.Is(err, ErrProvider) || !strings.Contains(err.Error(), "invalid response") {
				t.Fatalf("err = %v, want a clear invalid-response provider error", err)
			}
			if f.calls.Load() != 1 {
				t.Fatalf("calls = %d: a malformed answer must not be retried", f.calls.Load())
			}
			if b.rdb.Exists(context.Background(), b.prefix+ContentHash(c, b.cache.info, "1")).Val() != 0 {
				t.Fatal("a malformed answer was cached")
			}
		})
	}
}

func TestCacheKeyChangesWithModelAndPolicy(t *testing.T) {
	t.Parallel()
	f := newFakeOpenAI(t)
	b := setup(t, newOpenAI(t, f, nil), nil)
	c := Content{Text: "same text"}
	mustModerate(t, b.cache, c)
	if r := mustModerate(t, b.cache, c); !r.Cached {
		t.Fatal("want a hit with the same model")
	}
	other, err := NewCache(b.rdb, newOpenAI(t, f, func(c *OpenAIConfig) { c.Model = "text-moderation-stable" }),
		&CacheConfig{KeyPrefix: b.prefix})
	if err != nil {
		t.Fatal(err)
	}
	if r := mustModerate(t, other, c); r.Cached || r.Model != "text-moderation-stable" {
		t.Fatalf("other model = %+v, want a miss", r)
	}
	if f.lastRequest().Model != "text-moderation-stable" {
		t.Fatalf("request model = %q", f.lastRequest().Model)
	}
	policy, _ := NewCache(b.rdb, b.cache.provider, &CacheConfig{KeyPrefix: b.prefix, PolicyVersion: "2"})
	if r := mustModerate(t, policy, c); r.Cached {
		t.Fatal("a new policy version must miss")
	}
	if got := f.calls.Load(); got != 3 {
		t.Fatalf("provider calls = %d, want 3", got)
	}
}

func TestCacheSurvivesRedisKillAndRestart(t *testing.T) {
	t.Parallel()
	f := newFakeOpenAI(t)
	b := setup(t, newOpenAI(t, f, nil), nil)
	c := Content{Text: "kill test"}
	mustModerate(t, b.cache, c)
	if r := mustModerate(t, b.cache, c); !r.Cached {
		t.Fatal("want a hit before the kill")
	}

	b.srv.Kill()
	for i := range 3 {
		r := mustModerate(t, b.cache, c)
		if r.Cached || r.Provider != "openai" {
			t.Fatalf("request %d with Redis dead = %+v", i, r)
		}
	}
	s := b.cache.LocalStats()
	if s.Bypasses != 3 || s.RedisErrors < 3 {
		t.Fatalf("stats with Redis dead = %+v, want 3 bypasses", s)
	}
	if st := b.cache.Stats(context.Background()); st.Fleet != nil || st.FleetError == "" {
		t.Fatalf("fleet stats with Redis dead = %+v", st)
	}

	b.srv.Restart()
	// The restarted Redis is empty: the first lookup that reaches it misses,
	// the next one hits.
	var seq []string
	waitFor(t, "a hit after the restart", 10*time.Second, func() bool {
		r := mustModerate(t, b.cache, c)
		switch {
		case r.Cached:
			seq = append(seq, "hit")
			return true
		case b.cache.LocalStats().Misses > s.Misses && (len(seq) == 0 || seq[len(seq)-1] != "miss"):
			seq = append(seq, "miss")
		default:
			seq = append(seq, "bypass")
		}
		return false
	})
	if len(seq) < 2 || seq[len(seq)-2] != "miss" {
		t.Fatalf("sequence after restart = %v, want ... miss, hit", seq)
	}
	// Bypasses counted while Redis was dead reach the fleet counters.
	fs, err := b.cache.FleetStats(context.Background())
	if err != nil || fs.Bypasses < 3 {
		t.Fatalf("fleet stats after restart = %+v, %v; want the 3 bypasses flushed", fs, err)
	}
}

func TestCacheStalledRedisDoesNotStallRequests(t *testing.T) {
	t.Parallel()
	// A TCP server that accepts and never answers: a stalled Redis.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	closeConns := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, cn := range conns {
			_ = cn.Close()
		}
		conns = nil
	}
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		for {
			cn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, cn)
			mu.Unlock()
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: l.Addr().String(), ReadTimeout: 3 * time.Second, MaxRetries: -1})
	t.Cleanup(func() {
		_ = l.Close()
		<-acceptDone
		closeConns()
		_ = rdb.Close()
	})
	c, err := NewCache(rdb, rulesProvider(t), &CacheConfig{RedisTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// A deadline shorter than the client's own 3s read timeout: only the
	// cache's RedisTimeout can keep us within it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := c.Moderate(ctx, Content{Text: "ostie de cave"})
	if err != nil || !r.Flagged || r.Cached {
		t.Fatalf("Moderate with a stalled Redis = %+v, %v", r, err)
	}
	if s := c.LocalStats(); s.Bypasses != 1 || s.RedisErrors != 1 {
		t.Fatalf("stats = %+v", s)
	}
	// Let the abandoned Redis call end before goleak looks.
	closeConns()
	waitFor(t, "the abandoned call", 5*time.Second, func() bool { return rdb.PoolStats().TotalConns == 0 })
}

func TestCacheWithoutRedis(t *testing.T) {
	t.Parallel()
	c, err := NewCache(nil, rulesProvider(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if r := mustModerate(t, c, Content{Text: "je vais te tuer"}); r.Cached || !r.Categories[CategoryHarassmentThreatening] {
			t.Fatalf("result = %+v", r)
		}
	}
	st := c.Stats(context.Background())
	if st.Local.Bypasses != 2 || st.Redis != "not_configured" || st.Fleet != nil {
		t.Fatalf("stats = %+v", st)
	}
	if ai := c.AIStatus(); ai.Status != AIStatusOK || ai.Provider != "rules" {
		t.Fatalf("AIStatus = %+v", ai)
	}
}

func TestCacheAvailableFalseSkipsRedis(t *testing.T) {
	t.Parallel()
	var up = false
	var mu sync.Mutex
	b := setup(t, rulesProvider(t), func(c *CacheConfig) {
		c.Available = func() bool { mu.Lock(); defer mu.Unlock(); return up }
	})
	mustModerate(t, b.cache, Content{Text: "hello"})
	if n := b.rdb.DBSize(context.Background()).Val(); n != 0 {
		t.Fatalf("Redis has %d keys while unavailable", n)
	}
	if st := b.cache.Stats(context.Background()); st.Local.Bypasses != 1 || st.Redis != "unavailable" {
		t.Fatalf("stats = %+v", st)
	}
	mu.Lock()
	up = true
	mu.Unlock()
	mustModerate(t, b.cache, Content{Text: "hello"})
	if r := mustModerate(t, b.cache, Content{Text: "hello"}); !r.Cached {
		t.Fatal("want a hit once available")
	}
	fs, _ := b.cache.FleetStats(context.Background())
	if fs.Bypasses != 1 || fs.Lookups != 2 || fs.Hits != 1 {
		t.Fatalf("fleet = %+v", fs)
	}
}

func TestCacheCorruptEntryIsAMiss(t *testing.T) {
	t.Parallel()
	b := setup(t, rulesProvider(t), nil)
	c := Content{Text: "hello"}
	key := b.prefix + ContentHash(c, b.cache.info, "1")
	for _, v := range []string{"not json", `{"v":99,"flagged":true,"provider":"rules"}`} {
		b.rdb.Set(context.Background(), key, v, time.Minute)
		if r := mustModerate(t, b.cache, c); r.Cached || r.Flagged {
			t.Fatalf("corrupt entry %q served: %+v", v, r)
		}
		if r := mustModerate(t, b.cache, c); !r.Cached {
			t.Fatal("want the rewritten entry to hit")
		}
	}
}

func TestCacheCallerCancelDoesNotCancelSharedCall(t *testing.T) {
	t.Parallel()
	f := newFakeOpenAI(t)
	release := make(chan struct{})
	f.setRespond(func(n int64, w http.ResponseWriter, req fakeRequest) {
		<-release
		writeFakeVerdict(w, req, false)
	})
	b := setup(t, newOpenAI(t, f, nil), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := b.cache.Moderate(ctx, Content{Text: "patience"}); done <- err }()
	waitFor(t, "the provider call", 5*time.Second, func() bool { return f.calls.Load() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller err = %v", err)
	}
	close(release)
	// The call went on and its verdict was cached (a request made while
	// it is still finishing shares it, hence the polling).
	waitFor(t, "a cached verdict", 5*time.Second, func() bool {
		return mustModerate(t, b.cache, Content{Text: "patience"}).Cached
	})
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("provider calls = %d, want 1", n)
	}
}

func TestNewCacheValidates(t *testing.T) {
	t.Parallel()
	p := rulesProvider(t)
	bad := []*CacheConfig{{Jitter: 0.9}, {TTL: time.Microsecond}, {RedisTimeout: -1}, {ProviderTimeout: -1}}
	for _, cfg := range bad {
		if _, err := NewCache(nil, p, cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewCache(%+v) err = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	if _, err := NewCache(nil, nil, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("nil provider accepted: %v", err)
	}
	cfg := &CacheConfig{}
	c, err := NewCache(nil, p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", *cfg) != fmt.Sprintf("%+v", CacheConfig{}) {
		t.Error("NewCache mutated the caller's config")
	}
	want := CacheConfig{TTL: 24 * time.Hour, Jitter: 0.05, RedisTimeout: 250 * time.Millisecond,
		KeyPrefix: "zyeute:moderation:v1:", StatsKey: "zyeute:moderation:v1:stats", PolicyVersion: "1",
		ProviderTimeout: time.Minute, StatsFlushInterval: time.Second, Logger: c.cfg.Logger}
	if fmt.Sprintf("%+v", c.cfg) != fmt.Sprintf("%+v", want) {
		t.Errorf("defaults = %+v\nwant %+v", c.cfg, want)
	}
}

func TestContentHash(t *testing.T) {
	t.Parallel()
	p := ProviderInfo{Provider: "rules", Model: "m", PolicyVersion: "1"}
	composed := ContentHash(Content{Text: "café"}, p, "1")
	decomposed := ContentHash(Content{Text: "  cafe\u0301\n"}, p, "1")
	if composed != decomposed {
		t.Error("NFC-equivalent texts hash differently")
	}
	if len(composed) != 64 {
		t.Errorf("hash %q is not 64 hex characters", composed)
	}
	distinct := []string{
		composed,
		ContentHash(Content{Text: "Café"}, p, "1"),
		ContentHash(Content{Text: "café"}, p, "2"),
		ContentHash(Content{Text: "café"}, ProviderInfo{Provider: "rules", Model: "m2", PolicyVersion: "1"}, "1"),
		ContentHash(Content{Text: "café"}, ProviderInfo{Provider: "rules", Model: "m", PolicyVersion: "2"}, "1"),
		ContentHash(Content{Text: "café"}, ProviderInfo{Provider: "openai", Model: "m", PolicyVersion: "1"}, "1"),
		// Field boundaries matter: "ab"+"c" is not "a"+"bc".
		ContentHash(Content{Text: "x"}, ProviderInfo{Provider: "ab", Model: "c"}, "1"),
		ContentHash(Content{Text: "x"}, ProviderInfo{Provider: "a", Model: "bc"}, "1"),
		// The same string as text, image bytes and image URL.
		ContentHash(Content{Text: "https://x/y.png"}, p, "1"),
		ContentHash(Content{ImageData: []byte("https://x/y.png")}, p, "1"),
		ContentHash(Content{ImageURL: "https://x/y.png"}, p, "1"),
	}
	seen := map[string]int{}
	for i, h := range distinct {
		if j, ok := seen[h]; ok {
			t.Errorf("hash %d equals hash %d", i, j)
		}
		seen[h] = i
	}
}
