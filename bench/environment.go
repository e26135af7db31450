package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// environment is the machine and the versions a run was taken with.
type environment struct {
	Started     string `json:"started"`
	Finished    string `json:"finished"`
	CPUModel    string `json:"cpu_model"`
	NumCPU      int    `json:"num_cpu"` // runtime.NumCPU, what nproc prints
	Memory      string `json:"memory"`  // the Mem: line of free -h
	LoadBefore  string `json:"load_before"`
	LoadAfter   string `json:"load_after"`
	Go          string `json:"go"`
	Node        string `json:"node"`
	BullMQ      string `json:"bullmq"`
	IORedis     string `json:"ioredis"`
	Asynq       string `json:"asynq"`
	GoRedis     string `json:"go_redis"`
	Redis       string `json:"redis"`
	OursVersion string `json:"ours"`
	// The server alone, no child connected, over the idle window.
	IdleBaselineCmdsPerS float64 `json:"idle_baseline_cmds_per_s"`
	IdleBaselineCPUPerS  float64 `json:"idle_baseline_cpu_us_per_s"`
}

func collectEnvironment(ctx context.Context, cfg config, rc *redis.Client) environment {
	e := environment{Started: time.Now().UTC().Format(time.RFC3339), NumCPU: runtime.NumCPU(), Go: runtime.Version(),
		LoadBefore: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				e.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if out, err := exec.CommandContext(ctx, "free", "-h").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "Mem:") {
				e.Memory = strings.Join(strings.Fields(l), " ")
			}
		}
	}
	if out, err := exec.CommandContext(ctx, cfg.Node, "--version").Output(); err == nil {
		e.Node = strings.TrimSpace(string(out))
	}
	nm := filepath.Join(cfg.Dir, "..", "interop", "node_modules")
	e.BullMQ = npmVersion(filepath.Join(nm, "bullmq"))
	e.IORedis = npmVersion(filepath.Join(nm, "ioredis"))
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/hibiken/asynq":
				e.Asynq = d.Version
			case "github.com/redis/go-redis/v9":
				e.GoRedis = d.Version
			}
		}
	}
	if out, err := exec.CommandContext(ctx, "git", "-C", cfg.Dir, "describe", "--always", "--dirty").Output(); err == nil {
		e.OursVersion = strings.TrimSpace(string(out))
	}
	if s, err := snapshot(ctx, rc); err == nil {
		e.Redis = s.version
	}
	return e
}

func (o *orchestrator) envAfter(_ context.Context, e *environment) {
	e.Finished = time.Now().UTC().Format(time.RFC3339)
	e.LoadAfter = loadAvg()
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func npmVersion(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return "missing"
	}
	var p struct{ Version string }
	if json.Unmarshal(b, &p) != nil {
		return "unreadable"
	}
	return p.Version
}
