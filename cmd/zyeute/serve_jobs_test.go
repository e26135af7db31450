package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/redistest"
)

const testAdminToken = "jobs-admin-token-0123456789"

const analyticsJob = `{"name":"batch","data":{"events":[{"type":"view","video_id":"v1","watch_ms":900},{"type":"like","video_id":"v1","user_id":"u1"}]}}`

// call does one HTTP request against s and returns status and body.
func (s *served) call(t *testing.T, method, path, body, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := http.Client{Timeout: 40 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitJob polls GET /api/jobs/{queue}/{id} until its state is want.
func (s *served) waitJob(t *testing.T, queue, id, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, body := s.call(t, "GET", "/api/jobs/"+queue+"/"+id, "", "")
		var doc map[string]any
		_ = json.Unmarshal([]byte(body), &doc)
		if status == 200 && doc["state"] == want {
			return doc
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s/%s not %s: %d %s\n%s", queue, id, want, status, body, s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func enqueue(t *testing.T, s *served, queue, body string, wantStatus int) map[string]any {
	t.Helper()
	status, resp := s.call(t, "POST", "/api/jobs/"+queue, body, "")
	if status != wantStatus {
		t.Fatalf("POST /api/jobs/%s: %d %s (want %d)", queue, status, resp, wantStatus)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(resp), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestServeJobsQueuedStatsMetrics(t *testing.T) {
	t.Parallel()
	const pw = "jobs-Pa55-word-e2e"
	r := redistest.Start(t, &redistest.Options{Password: pw})
	prefix := redistest.KeyPrefix(t)
	s := startServe(t, map[string]string{"REDIS_URL": "redis://:" + pw + "@" + r.Addr(), "ADMIN_TOKEN": testAdminToken,
		"QUEUE_PREFIX": prefix, "WORKER_CONCURRENCY": "2"})
	s.waitRedis(t, "connected", 10*time.Second)
	var outputs []string

	doc := enqueue(t, s, "analytics", analyticsJob, 202)
	if doc["mode"] != "queued" || doc["queue"] != "analytics" || doc["id"] == "" {
		t.Fatalf("enqueue = %v", doc)
	}
	job := s.waitJob(t, "analytics", doc["id"].(string), "completed")
	res, _ := json.Marshal(job["result"])
	if !strings.Contains(string(res), `"watch_ms":900`) || job["attempts_made"] != 1.0 || job["data"] != nil {
		t.Errorf("job = %v", job)
	}

	// Validation errors are 400s naming the field; unknown queue 404.
	status, body := s.call(t, "POST", "/api/jobs/privacy-audit", `{"data":{"request_id":"r1","user_id":"u1","kind":"erase"}}`, "")
	if status != 400 || !strings.Contains(body, "field kind: must be one of") {
		t.Errorf("invalid payload: %d %s", status, body)
	}
	status, body = s.call(t, "POST", "/api/jobs/privacy-audit", `{"data":{},"priority":1}`, "")
	if status != 400 || !strings.Contains(body, "unknown field") {
		t.Errorf("unknown field: %d %s", status, body)
	}
	if status, body = s.call(t, "GET", "/api/jobs/analytics/999", "", ""); status != 404 {
		t.Errorf("missing job: %d %s", status, body)
	}
	if status, body = s.call(t, "POST", "/api/jobs/nope", `{"data":{}}`, ""); status != 404 {
		t.Errorf("unknown queue: %d %s", status, body)
	}

	// Admin stats: token required, content, cached.
	if status, body = s.call(t, "GET", "/api/admin/queue/stats", "", ""); status != 401 {
		t.Errorf("stats without token: %d %s", status, body)
	}
	if status, body = s.call(t, "GET", "/api/admin/queue/stats", "", "wrong-token-0123456789"); status != 401 {
		t.Errorf("stats with a wrong token: %d %s", status, body)
	}
	var snap struct {
		GeneratedAt time.Time `json:"generated_at"`
		Prefix      string    `json:"prefix"`
		Queues      []struct {
			Queue   string           `json:"queue"`
			Counts  map[string]int64 `json:"counts"`
			Paused  bool             `json:"paused"`
			Workers *int             `json:"workers"`
			NoLock  *int64           `json:"active_without_lock"`
		} `json:"queues"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body = s.call(t, "GET", "/api/admin/queue/stats", "", testAdminToken)
		if status != 200 || json.Unmarshal([]byte(body), &snap) != nil {
			t.Fatalf("stats: %d %s", status, body)
		}
		if len(snap.Queues) == 5 && snap.Queues[1].Counts["completed"] == 1 && snap.Queues[1].Workers != nil && *snap.Queues[1].Workers == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never showed the completed job and the worker: %s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	outputs = append(outputs, body)
	if snap.Prefix != prefix || snap.Queues[1].Queue != "analytics" || snap.Queues[1].NoLock == nil {
		t.Errorf("stats = %s", body)
	}
	_, body2 := s.call(t, "GET", "/api/admin/queue/stats", "", testAdminToken)
	var snap2 struct {
		GeneratedAt time.Time `json:"generated_at"`
	}
	_ = json.Unmarshal([]byte(body2), &snap2)
	if !snap2.GeneratedAt.Equal(snap.GeneratedAt) && snap2.GeneratedAt.Sub(snap.GeneratedAt) < 2*time.Second {
		t.Errorf("two calls within the cache window gave different snapshots: %s vs %s", snap.GeneratedAt, snap2.GeneratedAt)
	}

	// /metrics shows the job's counters, the queue gauges and the runtime.
	deadline = time.Now().Add(10 * time.Second)
	for {
		status, body = s.call(t, "GET", "/metrics", "", "")
		missing := ""
		for _, want := range []string{
			`zyeute_jobs_enqueued_total{mode="queued",queue="analytics"} 1`,
			`zyeute_jobs_completed_total{mode="queued",queue="analytics"} 1`,
			`zyeute_job_duration_seconds_count{mode="queued",outcome="ok",queue="analytics"} 1`,
			`zyeute_queue_jobs{queue="analytics",state="completed"} 1`,
			`zyeute_queue_workers{queue="analytics"} 1`,
			`zyeute_queue_stats_up 1`,
			`zyeute_redis_state{state="connected"} 1`,
			`zyeute_redis_probe_latency_seconds `,
			`zyeute_redis_commands_total{command="evalsha"} `,
			`go_goroutines `,
			`process_resident_memory_bytes `,
		} {
			if !strings.Contains(body, want) {
				missing = want
				break
			}
		}
		if status == 200 && missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q (status %d)", missing, status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	outputs = append(outputs, body)

	if err := s.stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	logs := s.stderr.String()
	for _, want := range []string{"[Jobs] workers started", "[Jobs] workers stopped", "stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	for _, out := range append(outputs, logs) {
		if strings.Contains(out, pw) || strings.Contains(out, testAdminToken) {
			t.Errorf("a secret leaked into the output: %.200s", out)
		}
	}
}

func TestServeJobsNotConfigured(t *testing.T) {
	t.Parallel()
	s := startServe(t, map[string]string{"ADMIN_TOKEN": testAdminToken})
	doc := enqueue(t, s, "memory-mining", `{"data":{"user_id":"u1","date":"2026-11-26","videos":[{"video_id":"a","created_at":"2025-11-26T08:00:00Z","views":3}]}}`, 200)
	if doc["mode"] != "sync" || !strings.Contains(fmt.Sprint(doc["result"]), "on_this_day") {
		t.Errorf("sync result = %v", doc)
	}
	if status, body := s.call(t, "GET", "/api/jobs/memory-mining/1", "", ""); status != 503 || !strings.Contains(body, "not configured") {
		t.Errorf("job lookup: %d %s", status, body)
	}
	if status, body := s.call(t, "GET", "/api/admin/queue/stats", "", testAdminToken); status != 503 || !strings.Contains(body, "Redis unavailable") {
		t.Errorf("stats: %d %s", status, body)
	}
	_, metrics := s.call(t, "GET", "/metrics", "", "")
	for _, want := range []string{`zyeute_jobs_enqueued_total{mode="sync",queue="memory-mining"} 1`,
		`zyeute_jobs_completed_total{mode="sync",queue="memory-mining"} 1`, `zyeute_redis_state{state="not_configured"} 1`,
		`zyeute_queue_stats_up 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if logs := s.stderr.String(); !strings.Contains(logs, "[Jobs] Redis not configured: workers not started") {
		t.Errorf("logs:\n%s", logs)
	}

	// No ADMIN_TOKEN: the stats route answers 503.
	s2 := startServe(t, map[string]string{"WORKERS": "false"})
	if status, body := s2.call(t, "GET", "/api/admin/queue/stats", "", "anything"); status != 503 || !strings.Contains(body, "ADMIN_TOKEN not set") {
		t.Errorf("stats without ADMIN_TOKEN: %d %s", status, body)
	}
}

func TestServeJobsRedisKilledAndRestarted(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t, nil)
	s := startServe(t, map[string]string{"REDIS_URL": r.URL(), "QUEUE_PREFIX": redistest.KeyPrefix(t)})
	s.waitRedis(t, "connected", 10*time.Second)
	chain := `{"data":{"wallet":"0xAbCdEf0123456789abcdef0123456789ABCDEF01","chain":"ethereum","from_block":1,"to_block":15000}}`
	doc := enqueue(t, s, "blockchain-sync", chain, 202)
	s.waitJob(t, "blockchain-sync", doc["id"].(string), "completed")

	r.Kill()
	s.waitRedis(t, "disconnected", 15*time.Second)
	doc = enqueue(t, s, "blockchain-sync", chain, 200)
	if doc["mode"] != "sync" || !strings.Contains(fmt.Sprint(doc["result"]), "local-plan") {
		t.Errorf("while down: %v", doc)
	}

	r.Restart()
	s.waitRedis(t, "connected", 30*time.Second)
	doc = enqueue(t, s, "blockchain-sync", chain, 202)
	// The in-process worker recovered on its own and runs it.
	s.waitJob(t, "blockchain-sync", doc["id"].(string), "completed")
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	logs := s.stderr.String()
	for _, want := range []string{"[Jobs] Redis unavailable: running jobs synchronously in-process", "[Jobs] Redis available again: jobs are queued"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
}
