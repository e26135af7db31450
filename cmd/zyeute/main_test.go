package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/internal/testlog"
)

// syncBuffer is the shared goroutine-safe log sink.
type syncBuffer = testlog.Buffer

type healthDoc struct {
	Status   string `json:"status"`
	Database string `json:"database"`
	AI       struct {
		Provider string `json:"provider"`
		Status   string `json:"status"`
	} `json:"ai"`
	Redis struct {
		Status  string   `json:"status"`
		Message string   `json:"message"`
		Latency *float64 `json:"latency"`
	} `json:"redis"`
}

type served struct {
	base   string
	stderr *syncBuffer
	stop   func() error
}

// startServe runs `serve` through run() on a free port and waits for
// /livez. stop cancels the context and returns run's error. A port taken
// by another process between FreePort and listen is retried.
func startServe(t *testing.T, vars map[string]string) *served {
	t.Helper()
	return startServeWith(t, vars, nil)
}

// startServeWith is startServe with the job handlers of reg (nil: the
// local defaults).
func startServeWith(t *testing.T, vars map[string]string, reg *jobs.RegistryConfig) *served {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s, err := tryServe(t, vars, reg)
		if err == nil {
			return s
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatal(lastErr)
	return nil
}

func tryServe(t *testing.T, vars map[string]string, reg *jobs.RegistryConfig) (*served, error) {
	t.Helper()
	port, err := redistest.FreePort()
	if err != nil {
		return nil, err
	}
	// No drain window in tests unless a test asks for one.
	vals := map[string]string{"PORT": strconv.Itoa(port), "SHUTDOWN_DRAIN": "0"}
	for k, v := range vars {
		vals[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan struct{})
	var runErr error
	go func() {
		runErr = runEnv(ctx, &env{getenv: func(k string) string { return vals[k] }, stdout: io.Discard, stderr: stderr, registry: reg}, []string{"serve"})
		close(done)
	}()
	s := &served{base: "http://127.0.0.1:" + strconv.Itoa(port), stderr: stderr}
	s.stop = func() error {
		cancel()
		select {
		case <-done:
			return runErr
		case <-time.After(30 * time.Second):
			return fmt.Errorf("serve did not stop")
		}
	}
	t.Cleanup(func() { _ = s.stop() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-done:
			return nil, fmt.Errorf("serve exited early: %v\n%s", runErr, stderr)
		default:
		}
		resp, err := http.Get(s.base + "/livez")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("serve not up: %v\n%s", err, stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *served) health(t *testing.T) (healthDoc, string) {
	t.Helper()
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(s.base + "/api/health")
	if err != nil {
		t.Fatalf("GET /api/health: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/api/health answered %d: %s", resp.StatusCode, b)
	}
	var d healthDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("health body %q: %v", b, err)
	}
	return d, string(b)
}

// waitRedis polls /api/health until redis.status is want.
func (s *served) waitRedis(t *testing.T, want string, within time.Duration) (healthDoc, string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		d, raw := s.health(t)
		if d.Redis.Status == want {
			return d, raw
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis.status still %q after %s (want %q): %s\n%s", d.Redis.Status, within, want, raw, s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeNotConfigured(t *testing.T) {
	t.Parallel()
	s := startServe(t, nil)
	d, raw := s.health(t)
	if d.Status != "degraded" || d.Redis.Status != "not_configured" || d.Database != "embedded" ||
		d.AI.Provider != "rules" || d.AI.Status != "ok" || d.Redis.Latency != nil {
		t.Errorf("health = %s", raw)
	}
	if resp, err := http.Get(s.base + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("readyz: %v %v", resp, err)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	logs := s.stderr.String()
	for _, want := range []string{"[Redis] Not configured (REDIS_URL or REDIS_HOST not set) - Running in degraded mode", "shutting down", "stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestServeRedisKilledAndRestarted(t *testing.T) {
	t.Parallel()
	const pw = "e2e-Pa55-word-7c1d"
	r := redistest.Start(t, &redistest.Options{Password: pw})
	s := startServe(t, map[string]string{
		"REDIS_URL":  "redis://:" + pw + "@" + r.Addr(),
		"REDIS_HOST": "ignored.example", // REDIS_URL wins, with a notice
		"LOG_LEVEL":  "debug",
	})

	d, raw := s.waitRedis(t, "connected", 10*time.Second)
	if d.Status != "healthy" || d.Redis.Latency == nil || *d.Redis.Latency <= 0 || !strings.Contains(raw, `"latency":`) {
		t.Errorf("connected health = %s", raw)
	}

	r.Kill()
	d, raw = s.waitRedis(t, "disconnected", 15*time.Second)
	if d.Status != "degraded" || d.Redis.Latency != nil || !strings.Contains(d.Redis.Message, "ECONN") {
		t.Errorf("disconnected health = %s", raw)
	}

	// Stay down for a few retries, still serving, then come back.
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(s.stderr.String(), "[Redis] Retry attempt 3, waiting ") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if d, raw = s.health(t); d.Redis.Status != "disconnected" {
		t.Errorf("health while down = %s", raw)
	}
	r.Restart()
	d, raw = s.waitRedis(t, "connected", 30*time.Second)
	if d.Redis.Latency == nil {
		t.Errorf("reconnected health = %s", raw)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}

	logs := s.stderr.String()
	for _, want := range []string{
		"REDIS_URL is set and wins: ignoring REDIS_HOST",
		"[Redis] Initializing connection to " + r.Addr(),
		"[Redis] ✅ Connection established",
		"[Redis] ❌ Connection error: ECONN",
		"[Redis] Retry attempt 1, waiting ",
		"[Redis] Retry attempt 2, waiting ",
		"[Redis] Retry attempt 3, waiting ",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	for i, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, pw) {
			t.Errorf("log line %d contains the password: %q", i, line)
		}
	}
}

func TestPingExitCodes(t *testing.T) {
	t.Parallel()
	const pw = "ping-Secret-42x"
	r := redistest.Start(t, &redistest.Options{Password: pw})
	const dead = 1 // nothing listens on port 1 (a released free port could be reused by a parallel test)
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stdout string
	}{
		{"connected", []string{"ping"}, map[string]string{"REDIS_URL": "redis://:" + pw + "@" + r.Addr()}, 0, "state:   connected"},
		{"no password", []string{"ping"}, map[string]string{"REDIS_URL": r.URL()}, 1, "NOAUTH"},
		{"wrong password", []string{"ping", "-timeout", "2s"}, map[string]string{"REDIS_HOST": "127.0.0.1", "REDIS_PORT": strconv.Itoa(r.Port()), "REDIS_PASSWORD": "x" + pw}, 1, "WRONGPASS"},
		{"refused", []string{"ping"}, map[string]string{"REDIS_HOST": "127.0.0.1", "REDIS_PORT": strconv.Itoa(dead)}, 1, "ECONNREFUSED"},
		{"not configured", []string{"ping"}, nil, 3, "state:   not_configured"},
		{"bad config", []string{"ping"}, map[string]string{"REDIS_URL": "redis://:" + pw + "@h:99999"}, 2, ""},
		{"bad flag", []string{"ping", "-nope"}, nil, 2, ""},
		{"extra arg", []string{"ping", "now"}, nil, 2, ""},
		{"unknown command", []string{"frobnicate"}, nil, 2, ""},
		{"no command", nil, nil, 2, ""},
		{"version", []string{"version"}, nil, 0, "zyeute "},
		{"--version", []string{"--version"}, nil, 0, "zyeute "},
		{"help", []string{"help"}, nil, 0, "Usage: zyeute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, &stdout, &stderr)
			if got := exitCode(err); got != tt.code {
				t.Errorf("exit code %d, want %d (err %v)\nstdout: %s\nstderr: %s", got, tt.code, err, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tt.stdout)
			}
			for _, s := range []string{stdout.String(), stderr.String(), errorMessage(err)} {
				if strings.Contains(s, pw) {
					t.Errorf("output contains the password: %q", s)
				}
			}
		})
	}
}

// TestHelpTexts: help lists every command of the table and states exit 3
// for every command that needs Redis; serve --help says how serve is
// configured (it has no flags).
func TestHelpTexts(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"help"}, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, c := range commands() {
		if !strings.Contains(stdout.String(), "  "+c.name+" ") {
			t.Errorf("help lacks %q:\n%s", c.name, stdout.String())
		}
	}
	if !strings.Contains(stdout.String(), "3 Redis not configured\n(ping, worker and queue") {
		t.Errorf("help does not state exit 3 for every command needing Redis:\n%s", stdout.String())
	}
	stdout.Reset()
	err := run(context.Background(), []string{"serve", "--help"}, func(string) string { return "" }, &stdout, &stderr)
	if err != nil || !strings.Contains(stderr.String(), "REDIS_URL") || !strings.Contains(stderr.String(), "ACCESS_LOG") {
		t.Errorf("serve --help: %v\n%s", err, stderr.String())
	}
	for _, args := range [][]string{{"worker"}, {"queue", "stats"}, {"ping"}} {
		err := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr)
		if exitCode(err) != exitNotConfigured || !strings.Contains(errorMessage(err), "REDIS_URL or REDIS_HOST") {
			t.Errorf("%s without Redis: exit %d, %v", args[0], exitCode(err), err)
		}
	}
}

// TestBinarySIGTERM builds the real binary and checks that SIGTERM stops
// serve gracefully with exit status 0, and that the version is stamped.
func TestBinarySIGTERM(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "zyeute")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v9.9.9-test", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "zyeute v9.9.9-test" {
		t.Errorf("version: %q %v", out, err)
	}
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "SHUTDOWN_DRAIN=0", "DATA_DIR="+t.TempDir(), "REDIS_URL=", "REDIS_HOST=", "REDIS_SENTINEL_ADDRS=", "REDIS_CLUSTER_ADDRS=")
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/livez")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("binary not up: %v\n%s", err, stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no exit after SIGTERM\n%s", stderr)
	}
	if !strings.Contains(stderr.String(), "msg=stopped") {
		t.Errorf("no graceful stop in logs:\n%s", stderr)
	}
}

func TestExitWith(t *testing.T) {
	t.Parallel()
	if exitWith(0) != nil || exitCode(exitWith(0)) != 0 {
		t.Error("exitWith(0) is not success")
	}
	if err := exitWith(4); exitCode(err) != 4 || errorMessage(err) != "" {
		t.Errorf("exitWith(4) = %v (code %d)", err, exitCode(err))
	}
}
