package moderation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestOpenAIRequestFormat(t *testing.T) {
	t.Parallel()
	f := newFakeOpenAI(t)
	m := newOpenAI(t, f, nil)
	ctx := context.Background()

	v, err := m.Moderate(ctx, Content{Text: " this is bad "})
	if err != nil {
		t.Fatal(err)
	}
	if !v.Flagged || !v.Categories["harassment"] || v.Scores["harassment"] != 0.97 || v.Provider != "openai" {
		t.Fatalf("verdict = %+v", v)
	}
	var text string
	if err := json.Unmarshal(f.lastRequest().Input, &text); err != nil || text != "this is bad" {
		t.Fatalf("text input = %s (%v), want the trimmed string", f.lastRequest().Input, err)
	}
	if f.lastRequest().Model != "omni-moderation-latest" {
		t.Fatalf("model = %q", f.lastRequest().Model)
	}

	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 32)...)
	if _, err := m.Moderate(ctx, Content{ImageData: png}); err != nil {
		t.Fatal(err)
	}
	var parts []map[string]any
	if err := json.Unmarshal(f.lastRequest().Input, &parts); err != nil || len(parts) != 1 || parts[0]["type"] != "image_url" {
		t.Fatalf("image input = %s", f.lastRequest().Input)
	}
	url, _ := parts[0]["image_url"].(map[string]any)["url"].(string)
	if !strings.HasPrefix(url, "data:image/png;base64,iVBORw0KGgo") {
		t.Fatalf("image data URL = %.40q", url)
	}

	if _, err := m.Moderate(ctx, Content{ImageURL: "https://cdn.zyeute.example/p.jpg"}); err != nil {
		t.Fatal(err)
	}
	if got := string(f.lastRequest().Input); got != `[{"type":"image_url","image_url":{"url":"https://cdn.zyeute.example/p.jpg"}}]` {
		t.Fatalf("image URL input = %s", got)
	}
	f.mu.Lock()
	authz := f.authz[0]
	f.mu.Unlock()
	if authz != "Bearer "+testAPIKey {
		t.Fatal("Authorization header not sent")
	}
}

func TestOpenAIRetryAfter(t *testing.T) {
	t.Parallel()
	f := newFakeOpenAI(t)
	f.setRespond(func(n int64, w http.ResponseWriter, req fakeRequest) {
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, `{"error":{"message":"slow down"}}`, http.StatusTooManyRequests)
			return
		}
		writeFakeVerdict(w, req, false)
	})
	m := newOpenAI(t, f, nil)
	if _, err := m.Moderate(context.Background(), Content{Text: "hi"}); err != nil {
		t.Fatalf("after one 429: %v", err)
	}
	if f.calls.Load() != 2 {
		t.Fatalf("calls = %d, want 2", f.calls.Load())
	}

	// A Retry-After beyond MaxBackoff: give up at once, say why.
	g := newFakeOpenAI(t)
	g.setRespond(func(n int64, w http.ResponseWriter, req fakeRequest) {
		w.Header().Set("Retry-After", "120")
		http.Error(w, "busy", http.StatusServiceUnavailable)
	})
	m = newOpenAI(t, g, nil)
	_, err := m.Moderate(context.Background(), Content{Text: "hi"})
	if !errors.Is(err, ErrProvider) || !strings.Contains(err.Error(), "retry after 2m0s") || g.calls.Load() != 1 {
		t.Fatalf("err = %v after %d calls, want an immediate give-up naming the Retry-After", err, g.calls.Load())
	}

	// Retry-After within the cap is waited for.
	h := newFakeOpenAI(t)
	var first time.Time
	var gap time.Duration
	h.setRespond(func(n int64, w http.ResponseWriter, req fakeRequest) {
		if n == 1 {
			first = time.Now()
			w.Header().Set("Retry-After-Ms", "150")
			http.Error(w, "busy", http.StatusTooManyRequests)
			return
		}
		gap = time.Since(first)
		writeFakeVerdict(w, req, false)
	})
	m = newOpenAI(t, h, func(c *OpenAIConfig) { c.MaxBackoff = time.Second })
	if _, err := m.Moderate(context.Background(), Content{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if gap < 150*time.Millisecond {
		t.Fatalf("retried after %s, before the server's retry-after-ms of 150ms", gap)
	}
}

func TestOpenAINonRetryableStatus(t *testing.T) {
	t.Parallel()
	for _, status := range []int{400, 401, 403, 404, 422} {
		f := newFakeOpenAI(t)
		f.setRespond(func(n int64, w http.ResponseWriter, req fakeRequest) {
			http.Error(w, `{"error":{"message":"nope"}}`, status)
		})
		_, err := newOpenAI(t, f, nil).Moderate(context.Background(), Content{Text: "hi"})
		if !errors.Is(err, ErrProvider) || !strings.Contains(err.Error(), fmt.Sprint(status)) || f.calls.Load() != 1 {
			t.Errorf("status %d: err = %v after %d calls, want one call", status, err, f.calls.Load())
		}
	}
}

func TestOpenAINetworkErrorRetried(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	m, err := NewOpenAIModerator(&OpenAIConfig{URL: "http://" + addr, APIKey: testAPIKey, MaxAttempts: 2,
		InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Moderate(context.Background(), Content{Text: "hi"})
	if !errors.Is(err, ErrProvider) || !strings.Contains(err.Error(), "attempt 2/2") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v", err)
	}
}

// The key must never reach a log line, an error, the AI status, or a
// printed or marshalled config, whatever goes wrong.
func TestOpenAIKeyNeverLeaks(t *testing.T) {
	t.Parallel()
	log, logs := newLogger()
	f := newFakeOpenAI(t)
	// Upstream echoes the Authorization header in its error message.
	f.setRespond(func(n int64, w http.ResponseWriter, req fakeRequest) {
		f.mu.Lock()
		auth := f.authz[len(f.authz)-1]
		f.mu.Unlock()
		switch n % 4 {
		case 0:
			http.Error(w, `{"error":{"message":"bad key `+auth+`"}}`, http.StatusBadRequest)
		case 1:
			http.Error(w, `{"error":{"message":"Incorrect API key provided: `+testAPIKey+`"}}`, http.StatusUnauthorized)
		case 2:
			http.Error(w, `{"error":{"message":"overloaded, key=`+testAPIKey+`"}}`, http.StatusServiceUnavailable)
		default:
			_, _ = w.Write([]byte(`{"results": "` + testAPIKey + `"}`))
		}
	})
	cfg := &OpenAIConfig{URL: strings.Replace(f.srv.URL, "http://", "http://user:"+testAPIKey+"@", 1) + "/v1?key=" + testAPIKey,
		APIKey: testAPIKey, MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		HTTPClient: f.srv.Client(), Logger: log}
	m, err := NewOpenAIModerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, m, func(c *CacheConfig) { c.Logger = log })
	var outputs []string
	for i := range 6 {
		_, err := b.cache.Moderate(context.Background(), Content{Text: fmt.Sprint("text ", i)})
		if err == nil {
			t.Fatalf("call %d succeeded", i)
		}
		outputs = append(outputs, err.Error(), b.cache.AIStatus().LastError)
	}
	// A server that is down: the transport error names the URL.
	down, _ := NewOpenAIModerator(&OpenAIConfig{URL: "http://user:" + testAPIKey + "@127.0.0.1:1/?k=" + testAPIKey,
		APIKey: testAPIKey, MaxAttempts: 1, Logger: log})
	_, err = down.Moderate(context.Background(), Content{Text: "x"})
	outputs = append(outputs, err.Error())

	js, _ := json.Marshal(cfg)
	log.Info("config", slog.Any("cfg", *cfg), slog.Any("key", cfg.APIKey))
	outputs = append(outputs, fmt.Sprintf("%v %+v %#v %s %q", *cfg, *cfg, *cfg, cfg.APIKey, cfg.APIKey), string(js), logs.String())
	hs := httpStatus(t, b.cache.Handler(), `{"text":"handler"}`)
	outputs = append(outputs, hs.body)
	all := strings.Join(outputs, "\n")
	for _, secret := range []string{testAPIKey, "SECRET-0123456789"} {
		if strings.Contains(all, secret) {
			t.Fatalf("the API key leaked:\n%s", all)
		}
	}
	if !strings.Contains(all, "[REDACTED]") || !strings.Contains(all, "authentication failed") {
		t.Fatalf("expected redaction markers and an auth failure in:\n%s", all)
	}
}

func TestOpenAIConfig(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"https://api.openai.com":                   "https://api.openai.com/v1/moderations",
		"https://api.openai.com/":                  "https://api.openai.com/v1/moderations",
		"https://api.openai.com/v1":                "https://api.openai.com/v1/moderations",
		"https://proxy.example/openai/v1/":         "https://proxy.example/openai/v1/moderations",
		"http://127.0.0.1:8080/custom/moderations": "http://127.0.0.1:8080/custom/moderations",
	}
	for in, want := range cases {
		m, err := NewOpenAIModerator(&OpenAIConfig{URL: in})
		if err != nil || m.endpoint != want {
			t.Errorf("URL %q → %q (%v), want %q", in, m.endpoint, err, want)
		}
	}
	m, _ := NewOpenAIModerator(nil)
	if m.endpoint != "https://api.openai.com/v1/moderations" || m.Info().Model != DefaultOpenAIModel ||
		m.cfg.Timeout != 10*time.Second || m.cfg.MaxAttempts != 3 {
		t.Errorf("defaults = %+v", m.cfg)
	}
	for _, bad := range []*OpenAIConfig{{URL: "ftp://x"}, {URL: "not a url"}, {MaxAttempts: 11}, {MaxAttempts: -1},
		{InitialBackoff: time.Second, MaxBackoff: time.Millisecond}, {APIKey: "sk bad"}, {Timeout: -1}} {
		if _, err := NewOpenAIModerator(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("config %+v accepted: %v", bad, err)
		}
	}
}
