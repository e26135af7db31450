package moderation

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/internal/testlog"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeOpenAI is a local server speaking the OpenAI moderation format.
type fakeOpenAI struct {
	srv   *httptest.Server
	calls atomic.Int64
	// respond decides the answer to the n-th call (1-based); nil answers
	// with a verdict flagging text that contains "bad".
	mu      sync.Mutex
	respond func(n int64, w http.ResponseWriter, req fakeRequest)
	last    fakeRequest
	authz   []string
}

type fakeRequest struct {
	Model string          `json:"model"`
	Input json.RawMessage `json:"input"`
}

func newFakeOpenAI(t *testing.T) *fakeOpenAI {
	t.Helper()
	f := &fakeOpenAI{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := f.calls.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/v1/moderations" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		var req fakeRequest
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &req)
		f.mu.Lock()
		f.last = req
		f.authz = append(f.authz, r.Header.Get("Authorization"))
		respond := f.respond
		f.mu.Unlock()
		if respond != nil {
			respond(n, w, req)
			return
		}
		writeFakeVerdict(w, req, bytes.Contains(req.Input, []byte("bad")))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOpenAI) setRespond(fn func(n int64, w http.ResponseWriter, req fakeRequest)) {
	f.mu.Lock()
	f.respond = fn
	f.mu.Unlock()
}

func (f *fakeOpenAI) lastRequest() fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func writeFakeVerdict(w http.ResponseWriter, req fakeRequest, flagged bool) {
	score := 0.01
	if flagged {
		score = 0.97
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id":    "modr-1",
		"model": req.Model,
		"results": []map[string]any{{
			"flagged":                      flagged,
			"categories":                   map[string]bool{"harassment": flagged, "violence": false},
			"category_scores":              map[string]float64{"harassment": score, "violence": 0.001},
			"category_applied_input_types": map[string][]string{"harassment": {"text"}, "violence": {"text"}},
		}},
	})
}

const testAPIKey = "sk-test-SECRET-0123456789abcdef"

func newOpenAI(t *testing.T, f *fakeOpenAI, mod func(*OpenAIConfig)) *OpenAIModerator {
	t.Helper()
	cfg := &OpenAIConfig{
		URL:            f.srv.URL,
		APIKey:         testAPIKey,
		Model:          "omni-moderation-latest",
		Timeout:        2 * time.Second,
		MaxAttempts:    3,
		InitialBackoff: time.Millisecond,
		MaxBackoff:     20 * time.Millisecond,
		HTTPClient:     f.srv.Client(),
	}
	if mod != nil {
		mod(cfg)
	}
	m, err := NewOpenAIModerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// logBuffer is the shared goroutine-safe log sink.
type logBuffer = testlog.Buffer

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// bundle is what most cache tests need.
type bundle struct {
	srv    *redistest.Server
	rdb    *redis.Client
	cache  *Cache
	prefix string
	logs   *logBuffer
}

// setup starts a Redis and builds a cache in front of provider with a
// per-test key prefix.
func setup(t *testing.T, provider Moderator, mod func(*CacheConfig)) *bundle {
	t.Helper()
	s := redistest.Start(t, nil)
	rdb := s.Client(t)
	log, logs := newLogger()
	prefix := redistest.KeyPrefix(t) + ":moderation:v1:"
	cfg := &CacheConfig{KeyPrefix: prefix, Logger: log}
	if mod != nil {
		mod(cfg)
	}
	c, err := NewCache(rdb, provider, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{srv: s, rdb: rdb, cache: c, prefix: prefix, logs: logs}
}

func mustModerate(t *testing.T, c *Cache, content Content) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Moderate(ctx, content)
	if err != nil {
		t.Fatalf("Moderate: %v", err)
	}
	return r
}

func rulesProvider(t *testing.T) *RulesModerator {
	t.Helper()
	m, err := NewRulesModerator(nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// waitFor polls cond every 10ms until it is true or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
