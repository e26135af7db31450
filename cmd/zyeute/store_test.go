package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/internal/store/storetest"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zyeute-cmd-data-")
	if err != nil {
		panic(err)
	}
	testDataDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

const storeBatch = `{"data":{"events":[
	{"type":"view","video_id":"clip-1","user_id":"alice","watch_ms":1500,"at":"2026-11-20T10:00:00Z"},
	{"type":"like","video_id":"clip-1","user_id":"alice","at":"2026-11-20T10:00:05Z"},
	{"type":"view","video_id":"clip-1","user_id":"bob","watch_ms":500,"at":"2026-11-21T10:00:00Z"}]}}`

func analyticsTotals(t *testing.T, s *served) map[string]any {
	t.Helper()
	status, body := s.call(t, "GET", "/api/analytics/videos/clip-1?from=2026-11-20&to=2026-11-21", "", "")
	if status != 200 {
		t.Fatalf("GET analytics: %d %s", status, body)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	return doc["totals"].(map[string]any)
}

func wantTotals(t *testing.T, got map[string]any) {
	t.Helper()
	if got["views"] != 2.0 || got["likes"] != 1.0 || got["watch_ms"] != 2000.0 || got["unique_viewers"] != 2.0 {
		t.Fatalf("totals %v", got)
	}
}

// With no Redis and no DATABASE_URL, serve opens the embedded SQLite file
// under DATA_DIR, runs the analytics and memory jobs inline into it, and
// a resent batch counts once.
func TestServeEmbeddedStoreDegraded(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	s := startServe(t, map[string]string{"DATA_DIR": dir})
	if doc, _ := s.health(t); doc.Database != "embedded" {
		t.Fatalf("health database %q", doc.Database)
	}
	for range 2 {
		doc := enqueue(t, s, "analytics", storeBatch, 200)
		if doc["mode"] != "sync" {
			t.Fatalf("not sync: %v", doc)
		}
	}
	wantTotals(t, analyticsTotals(t, s))
	enqueue(t, s, "memory-mining", `{"data":{"user_id":"alice","date":"2026-11-21","videos":[{"video_id":"clip-0","created_at":"2025-11-21T09:00:00Z"}]}}`, 200)
	if status, body := s.call(t, "GET", "/api/users/alice/memories", "", ""); status != 200 || !strings.Contains(body, `"kind":"on_this_day"`) {
		t.Fatalf("memories: %d %s", status, body)
	}
	doc := enqueue(t, s, "privacy-audit", `{"data":{"request_id":"req-9","user_id":"alice","kind":"access"}}`, 200)
	if !strings.Contains(fmt.Sprint(doc["result"]), "sha256") {
		t.Fatalf("privacy access: %v", doc)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"zyeute.db", "exports/req-9.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
}

// With Redis and DATABASE_URL, queued jobs run by the in-process workers
// land in PostgreSQL; /api/health says "connected".
func TestServePostgresStoreQueued(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t, nil)
	s := startServe(t, map[string]string{"REDIS_URL": r.URL(), "QUEUE_PREFIX": redistest.KeyPrefix(t), "DATABASE_URL": storetest.PostgresURL(t)})
	s.waitRedis(t, "connected", 10*time.Second)
	if doc, _ := s.health(t); doc.Database != "connected" {
		t.Fatalf("health database %q", doc.Database)
	}
	for range 2 {
		doc := enqueue(t, s, "analytics", storeBatch, 202)
		s.waitJob(t, "analytics", doc["id"].(string), "completed")
	}
	wantTotals(t, analyticsTotals(t, s))
}

// An unreachable DATABASE_URL stops serve at start with an error naming
// the server, never the password.
func TestServeDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]string{"PORT": fmt.Sprint(port), "DATABASE_URL": "postgres://app:hunter2-secret@127.0.0.1:1/zyeute?sslmode=disable&connect_timeout=2"}
	stderr := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = runEnv(ctx, &env{getenv: func(k string) string { return vals[k] }, stdout: io.Discard, stderr: stderr}, []string{"serve"})
	if err == nil || !strings.Contains(err.Error(), "cannot reach postgres database postgres://…@127.0.0.1:1/zyeute") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error()+stderr.String(), "hunter2") {
		t.Fatal("password leaked")
	}
}
