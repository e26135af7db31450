package main

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/zyeute/zyeute-redis/doctor"
	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/internal/store"
)

func runDoctor(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "doctor", "doctor [--json]")
	jsonOut := fs.Bool("json", false, "print the findings as JSON")
	if done, err := parseFlags(fs, args); done {
		return err
	}
	cfg, err := config.Load(e.getenv)
	t := doctorTarget(cfg, err, e.getenv)
	if err == nil {
		t.Database = doctorDatabase(cfg.Database)
	}
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

// doctorDatabase is doctor's input for the application database check:
// DATABASE_URL's PostgreSQL, or the embedded SQLite file under DATA_DIR.
func doctorDatabase(d config.Database) *doctor.Database {
	sc := store.Config{URL: d.URL.Reveal(), DataDir: dataDir(d.DataDir)}
	db := &doctor.Database{Backend: store.SQLite, Where: store.SQLitePath(sc)}
	if sc.URL != "" {
		db.Backend, db.Where = store.Postgres, store.Redact(sc.URL)
		if u, err := url.Parse(sc.URL); err == nil && u.User != nil {
			db.Password, _ = u.User.Password()
		}
	}
	db.Inspect = func(ctx context.Context) (doctor.DatabaseData, error) {
		in, err := store.Inspect(ctx, sc)
		if in == nil {
			return doctor.DatabaseData{}, err
		}
		return doctor.DatabaseData{Backend: in.Backend, Where: in.Where, Version: in.Version, Latency: in.Latency,
			Exists: in.Exists || in.Backend == store.Postgres, Writable: in.Writable, Applied: in.Applied, Latest: in.Latest}, err
	}
	return db
}
