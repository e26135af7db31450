package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/zyeute/zyeute-redis/internal/redistest"
)

func postModeration(t *testing.T, base, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(base+"/api/moderation", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	return resp.StatusCode, doc
}

func TestServeModerationCachedInRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	s := startServe(t, map[string]string{"REDIS_URL": srv.URL(), "ADMIN_TOKEN": "admin-tok-123", "WORKERS": "false"})
	s.waitRedis(t, "connected", 10e9)

	text := `{"text":"Je vais te tuer, mon ostie de cave"}`
	code, first := postModeration(t, s.base, text)
	if code != 200 || first["flagged"] != true || first["cached"] != false || first["provider"] != "rules" {
		t.Fatalf("first: %d %v", code, first)
	}
	// The cache's Redis round trips are bounded (250 ms): on a loaded
	// machine one write may be given up, so the verdict is cached by one of
	// the next few identical requests, not necessarily the second.
	var second map[string]any
	for i := 0; i < 5; i++ {
		code, second = postModeration(t, s.base, text)
		if code != 200 || second["flagged"] != true {
			t.Fatalf("request %d: %d %v", i+2, code, second)
		}
		if second["cached"] == true {
			break
		}
	}
	if second["cached"] != true {
		t.Fatalf("not served from the cache after 5 identical requests: %v", second)
	}
	if code, doc := postModeration(t, s.base, `{}`); code != 400 {
		t.Fatalf("empty content: %d %v", code, doc)
	}

	req, _ := http.NewRequest("GET", s.base+"/api/admin/moderation/stats", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("stats without token: %d", resp.StatusCode)
	}
	req.Header.Set("Authorization", "Bearer admin-tok-123")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "hit") {
		t.Fatalf("stats: %d %s", resp.StatusCode, b)
	}

	doc, raw := s.health(t)
	if doc.AI.Provider != "rules" || doc.AI.Status != "ok" || !strings.Contains(raw, `"cache":"redis"`) {
		t.Fatalf("health ai: %s", raw)
	}
}

func TestServeModerationWithoutRedis(t *testing.T) {
	t.Parallel()
	s := startServe(t, map[string]string{"WORKERS": "false"})
	text := `{"text":"hello, nice video"}`
	for i := 0; i < 2; i++ {
		code, doc := postModeration(t, s.base, text)
		if code != 200 || doc["flagged"] != false || doc["cached"] != false {
			t.Fatalf("call %d without Redis: %d %v", i, code, doc)
		}
	}
	_, raw := s.health(t)
	if !strings.Contains(raw, `"cache":"bypass"`) {
		t.Fatalf("health: %s", raw)
	}
}
