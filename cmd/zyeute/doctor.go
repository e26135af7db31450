package main

import (
	"context"
	"net"
	"strconv"
	"strings"

	"github.com/zyeute/zyeute-redis/doctor"
	"github.com/zyeute/zyeute-redis/internal/config"
)

func init() {
	register(command{name: "doctor", summary: "diagnose the Redis setup and print how to fix each problem (--json)", run: runDoctor})
}

func runDoctor(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "doctor", "doctor [--json]")
	jsonOut := fs.Bool("json", false, "print the findings as JSON")
	if done, err := parseFlags(fs, args); done {
		return err
	}
	cfg, err := config.Load(e.getenv)
	t := doctorTarget(cfg, err, e.getenv)
	return exitWith(doctor.Run(ctx, t, e.stdout, doctor.Options{JSON: *jsonOut}))
}

// redisVars are the variables REDIS_URL makes irrelevant.
var redisVars = []string{"REDIS_HOST", "REDIS_PORT", "REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_TLS", "REDIS_DB"}

// doctorTarget turns the loaded configuration (or its error, already
// redacted) into doctor's input.
func doctorTarget(cfg *config.Config, loadErr error, getenv func(string) string) doctor.Target {
	if loadErr != nil {
		return doctor.Target{Errors: []string{loadErr.Error()}}
	}
	r := cfg.Redis
	t := doctor.Target{
		Source:      r.Source,
		Username:    r.Username,
		Password:    r.Password.Reveal(),
		DB:          r.DB,
		TLS:         r.TLS,
		CAFile:      r.CAFile,
		QueuePrefix: cfg.QueuePrefix,
	}
	if r.Source == config.SourceURL {
		for _, v := range redisVars {
			if getenv(v) != "" {
				t.Ignored = append(t.Ignored, v)
			}
		}
	}
	for _, n := range cfg.Notices {
		if strings.Contains(n, "REDIS") {
			t.Notices = append(t.Notices, n)
		}
	}
	switch r.Mode {
	case config.ModeSentinel:
		t.SentinelAddrs, t.SentinelMaster = r.Addrs, r.SentinelMaster
	case config.ModeCluster:
		t.ClusterAddrs = r.Addrs
	default:
		if len(r.Addrs) > 0 {
			host, port, err := net.SplitHostPort(r.Addrs[0])
			if err == nil {
				t.Host = host
				t.Port, _ = strconv.Atoi(port)
			}
		}
		if r.Host != "" {
			t.Host = r.Host
		}
	}
	return t
}
