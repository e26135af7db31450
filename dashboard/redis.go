package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/doctor"
)

// redisNode is one server of the Redis panel.
type redisNode struct {
	Addr             string        `json:"addr"`
	Version          string        `json:"version"`
	Role             string        `json:"role"`
	UsedMemory       int64         `json:"used_memory"`
	MaxMemory        int64         `json:"maxmemory"`
	MaxMemoryPolicy  string        `json:"maxmemory_policy"`
	OpsPerSec        int64         `json:"ops_per_sec"`
	ConnectedClients int64         `json:"connected_clients"`
	AOF              bool          `json:"aof_enabled"`
	Save             string        `json:"save,omitempty"`
	LastSaveOK       bool          `json:"last_save_ok"`
	ConnectedSlaves  int64         `json:"connected_replicas"`
	MasterLinkStatus string        `json:"master_link_status,omitempty"`
	LatencyMS        float64       `json:"latency_ms"`
	Warnings         []nodeWarning `json:"warnings"`
}

type nodeWarning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// parseInfo reads INFO's "key:value" lines.
func parseInfo(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

func atoi(m map[string]string, k string) int64 {
	n, _ := strconv.ParseInt(m[k], 10, 64)
	return n
}

// readNode reads one server: INFO, CONFIG GET save (when allowed) and
// the round trip of a PING.
func readNode(ctx context.Context, c redis.Cmdable, addr string) redisNode {
	n := redisNode{Addr: addr, Warnings: []nodeWarning{}}
	start := time.Now()
	if err := c.Ping(ctx).Err(); err != nil {
		n.Warnings = append(n.Warnings, nodeWarning{Code: "unreachable", Message: "PING failed: " + err.Error()})
		return n
	}
	n.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	raw, err := c.Info(ctx, "server", "clients", "memory", "persistence", "stats", "replication").Result()
	if err != nil {
		n.Warnings = append(n.Warnings, nodeWarning{Code: "info_failed", Message: "INFO failed: " + err.Error()})
		return n
	}
	m := parseInfo(raw)
	n.Version, n.Role = m["redis_version"], m["role"]
	n.UsedMemory, n.MaxMemory, n.MaxMemoryPolicy = atoi(m, "used_memory"), atoi(m, "maxmemory"), m["maxmemory_policy"]
	n.OpsPerSec, n.ConnectedClients = atoi(m, "instantaneous_ops_per_sec"), atoi(m, "connected_clients")
	n.AOF, n.LastSaveOK = m["aof_enabled"] == "1", m["rdb_last_bgsave_status"] == "ok"
	n.ConnectedSlaves, n.MasterLinkStatus = atoi(m, "connected_slaves"), m["master_link_status"]
	saveKnown := false
	if v, err := c.ConfigGet(ctx, "save").Result(); err == nil {
		n.Save, saveKnown = v["save"], true
	}
	warn := func(code, msg, fix string) { n.Warnings = append(n.Warnings, nodeWarning{code, msg, fix}) }
	// The misconfigurations doctor knows.
	if p := n.MaxMemoryPolicy; p != "" && p != "noeviction" {
		warn("eviction_policy", fmt.Sprintf("maxmemory-policy is %s: when memory is full Redis deletes keys, including job hashes and locks", p),
			"CONFIG SET maxmemory-policy noeviction (and CONFIG REWRITE)")
	}
	if f := doctor.PersistenceFinding(n.AOF, n.Save, saveKnown); f.Status != doctor.StatusOK {
		warn(f.Code, f.Message, f.Fix)
	}
	if n.MaxMemory > 0 && float64(n.UsedMemory) > 0.9*float64(n.MaxMemory) {
		warn("memory_high", fmt.Sprintf("used memory is %.0f%% of maxmemory", 100*float64(n.UsedMemory)/float64(n.MaxMemory)),
			"raise maxmemory, or shorten job retention (removeOnComplete / removeOnFail)")
	}
	if n.Role == "slave" && n.MasterLinkStatus != "up" {
		warn("replication_down", "replica's link to its master is "+n.MasterLinkStatus, "")
	}
	if !n.LastSaveOK && m["rdb_last_bgsave_status"] != "" {
		warn("bgsave_failed", "the last RDB snapshot failed (rdb_last_bgsave_status:"+m["rdb_last_bgsave_status"]+")", "read the Redis log")
	}
	return n
}

// redisPanel answers the Redis panel: one entry per server (every master
// of a cluster).
func (s *Server) redisPanel(w http.ResponseWriter, r *http.Request, _ *caller) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var nodes []redisNode
	if cc, ok := c.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			n := readNode(ctx, m, m.Options().Addr)
			mu.Lock()
			nodes = append(nodes, n)
			mu.Unlock()
			return nil
		})
		if err != nil {
			return redisError("reading the cluster", err)
		}
	} else {
		addr := ""
		if rc, ok := c.(*redis.Client); ok {
			addr = rc.Options().Addr
		}
		nodes = []redisNode{readNode(ctx, c, addr)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"nodes": nodes, "generated_at": s.o.Now().UTC()})
	return nil
}

// moderation serves Options.Moderation behind the sign-in.
func (s *Server) moderation(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if s.o.Moderation == nil {
		return errorf(http.StatusNotFound, "moderation counters are not available in this process")
	}
	s.o.Moderation.ServeHTTP(w, r)
	return nil
}
