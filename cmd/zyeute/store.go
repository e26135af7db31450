package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/internal/httpapi"
	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/jobs/analytics"
	"github.com/zyeute/zyeute-redis/internal/jobs/chain"
	"github.com/zyeute/zyeute-redis/internal/jobs/memories"
	"github.com/zyeute/zyeute-redis/internal/jobs/privacy"
	"github.com/zyeute/zyeute-redis/internal/store"
	"github.com/zyeute/zyeute-redis/internal/video"
	"github.com/zyeute/zyeute-redis/secret"
)

// testDataDir, when set (tests), replaces DATA_DIR's default so test runs
// never write under the package directory.
var testDataDir string

// dataDir is DATA_DIR, or testDataDir (tests) in place of the default.
func dataDir(d string) string {
	if testDataDir != "" && d == "data" {
		return testDataDir
	}
	return d
}

// openStore opens the application database: PostgreSQL when DATABASE_URL
// is set, else the embedded SQLite file under DATA_DIR. Migrations are
// applied before it returns.
func openStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*store.Store, error) {
	c := store.Config{URL: cfg.Database.URL.Reveal(), DataDir: dataDir(cfg.Database.DataDir)}
	if c.DataDir != cfg.Database.DataDir && cfg.Database.ExportDir == filepath.Join("data", "exports") {
		cfg.Database.ExportDir = filepath.Join(testDataDir, "exports")
	}
	st, err := store.Open(ctx, c)
	if err != nil {
		return nil, err
	}
	logger.Info("database ready", "backend", st.Backend(), "where", st.Where())
	return st, nil
}

// withStore returns base (nil: defaults) with the store-backed handlers
// in the fields base leaves nil. Handlers a deployment or test set stay.
// With a Redis client, privacy-audit also exports and revokes the user's
// Redis sessions. blockchain-sync reads the chains that have an endpoint in
// chainRPC (CHAIN_RPC_<CHAIN>) and keeps the local plan for the others.
func withStore(base *jobs.RegistryConfig, st *store.Store, exportDir string, chainRPC map[string]secret.String, rdb redis.UniversalClient) *jobs.RegistryConfig {
	var c jobs.RegistryConfig
	if base != nil {
		c = *base
	}
	if c.Handlers.Analytics == nil {
		c.Handlers.Analytics = &analytics.Aggregator{Store: st, Now: c.Now}
	}
	if c.Handlers.Memory == nil {
		c.Handlers.Memory = &memories.Miner{Store: st, Now: c.Now}
	}
	if c.Handlers.Chain == nil && len(chainRPC) > 0 {
		eps := make(map[string]string, len(chainRPC))
		for name, u := range chainRPC {
			eps[name] = u.Reveal()
		}
		c.Handlers.Chain = &chain.Syncer{Store: st, Endpoints: eps}
	}
	if c.Media.Recorder == nil {
		c.Media.Recorder = renditionRecorder{st}
	}
	if c.Handlers.Privacy == nil {
		a := &privacy.Auditor{Store: st, ExportDir: exportDir, Now: c.Now}
		if rdb != nil {
			a.Sessions = &privacy.RedisSessions{Client: rdb}
		}
		c.Handlers.Privacy = a
	}
	return &c
}

// storeRoutes are the read APIs over the store: GET
// /api/analytics/videos/{id} and GET /api/users/{id}/memories.
func storeRoutes(st *store.Store, logger *slog.Logger) []httpapi.Route {
	rs := analytics.Routes(st, logger, nil)
	return append(rs, memories.Routes(st, logger)...)
}

// renditionRecorder records a finished video enhancement's renditions on
// the video's row (video-enhancement → store.SetRenditions).
type renditionRecorder struct{ st *store.Store }

func (r renditionRecorder) RecordRenditions(ctx context.Context, videoID string, res *video.Result) error {
	b, err := json.Marshal(res.Renditions)
	if err != nil {
		return fmt.Errorf("recording renditions of %s: %w", videoID, err)
	}
	return r.st.SetRenditions(ctx, videoID, string(b))
}
