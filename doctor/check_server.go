package doctor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ServerData is the Data of the server check.
type ServerData struct {
	// Flavor is "redis", "valkey" or "dragonfly".
	Flavor          string `json:"flavor"`
	Version         string `json:"version"`
	Mode            string `json:"mode,omitempty"` // standalone, cluster, sentinel (redis_mode)
	Role            string `json:"role,omitempty"`
	MaxmemoryPolicy string `json:"maxmemory_policy,omitempty"`
	Maxmemory       int64  `json:"maxmemory"`
	AOF             bool   `json:"aof_enabled"`
	// SavePoints is the RDB "save" setting; "" when off, "unknown" when
	// CONFIG is not available.
	SavePoints string `json:"save_points"`
	// ConfigAvailable is false when CONFIG GET is disabled or denied
	// (managed services): values then come from INFO.
	ConfigAvailable bool   `json:"config_available"`
	ClusterState    string `json:"cluster_state,omitempty"`
}

// version is major.minor.patch.
type version [3]int

func parseVersion(s string) (version, bool) {
	var v version
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return v, false
	}
	for i, p := range parts {
		// Strip suffixes such as "-rc1".
		p = strings.TrimFunc(p, func(r rune) bool { return r < '0' || r > '9' })
		n, err := strconv.Atoi(p)
		if err != nil {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

func (v version) less(o version) bool {
	for i := range v {
		if v[i] != o[i] {
			return v[i] < o[i]
		}
	}
	return false
}

func (d *diag) checkServer(ctx context.Context, c *Check) string {
	v, err := d.conn.do(ctx, "INFO")
	if err != nil {
		var re redisError
		if errors.As(err, &re) {
			add(c, "info_denied", StatusWarn, "INFO is not allowed: "+firstLine(string(re)), "ACL SETUSER "+d.user+" +info")
			return ""
		}
		code, msg, fix := classifyConnErr(d.server, err, d.o.CheckTimeout)
		add(c, code, StatusFail, msg, fix)
		return ""
	}
	info := parseInfo(asString(v))
	d.info = info
	data := ServerData{Flavor: "redis", Version: info["redis_version"], Mode: info["redis_mode"], Role: info["role"]}
	switch {
	case info["dragonfly_version"] != "":
		data.Flavor, data.Version = "dragonfly", strings.TrimPrefix(info["dragonfly_version"], "df-v")
	case info["valkey_version"] != "":
		data.Flavor, data.Version = "valkey", info["valkey_version"]
	case info["server_name"] == "valkey":
		data.Flavor = "valkey"
	}
	c.Data = &data

	d.checkVersion(c, data)

	// CONFIG, with INFO as the fallback for managed services.
	cfg := func(name string) (string, bool) {
		v, err := d.conn.do(ctx, "CONFIG", "GET", name)
		if err != nil {
			return "", false
		}
		arr, _ := v.([]any)
		if len(arr) < 2 {
			return "", false
		}
		return asString(arr[1]), true
	}
	policy, okPolicy := cfg("maxmemory-policy")
	data.ConfigAvailable = okPolicy
	if !okPolicy {
		policy = info["maxmemory_policy"]
	}
	data.MaxmemoryPolicy = policy
	data.Maxmemory, _ = strconv.ParseInt(info["maxmemory"], 10, 64)
	d.checkEviction(c, policy, data.Maxmemory, okPolicy)

	aof, okAOF := cfg("appendonly")
	if okAOF {
		data.AOF = aof == "yes"
	} else {
		data.AOF = info["aof_enabled"] == "1"
	}
	save, okSave := cfg("save")
	if okSave {
		data.SavePoints = strings.TrimSpace(save)
	} else {
		data.SavePoints = "unknown"
	}
	d.checkPersistence(c, data.AOF, data.SavePoints, okSave)

	d.checkTopology(ctx, c, &data, info)
	return ""
}

func (d *diag) checkVersion(c *Check, data ServerData) {
	name := data.Flavor
	ver, ok := parseVersion(data.Version)
	switch {
	case data.Flavor == "dragonfly":
		add(c, "version", StatusWarn, fmt.Sprintf("Dragonfly %s: BullMQ works on it only with --cluster_mode=emulated and hash-tagged queue names", data.Version),
			"prefer Redis ≥ 6.2 or Valkey; on Dragonfly use a prefix with a hash tag ({bull}) and the flags Dragonfly documents for BullMQ")
		return
	case !ok:
		add(c, "version_unknown", StatusWarn, fmt.Sprintf("cannot read the server version (%q)", data.Version), "make sure this is Redis ≥ 6.2")
		return
	case data.Flavor == "valkey":
		// Every Valkey release (7.2+) is at least Redis 7.2.
		add(c, "version", StatusOK, fmt.Sprintf("Valkey %s (compatible with Redis ≥ 7.2)", data.Version), "")
		return
	}
	v := ver
	switch {
	case v.less(version{5, 0, 0}):
		add(c, "version_too_old", StatusFail,
			fmt.Sprintf("%s %s is too old: queues need ≥ 5.0 (streams for events, ZPOPMIN/BZPOPMIN for workers); BullMQ refuses to start", name, data.Version),
			"upgrade to Redis ≥ 6.2 (7.x recommended)")
	case v.less(version{6, 2, 0}):
		var broken []string
		if v.less(version{6, 0, 0}) {
			broken = append(broken, "no ACL users (REDIS_USERNAME unusable)", "BZPOPMIN takes whole seconds only (workers wake up late)", "no SET KEEPTTL")
		}
		if v.less(version{6, 0, 6}) {
			broken = append(broken, "no LPOS (job deduplication falls back to slow scans)")
		}
		broken = append(broken, "no XAUTOCLAIM, GETDEL, ZRANGE BYSCORE forms, and no ACL DRYRUN to check permissions")
		add(c, "version_old", StatusWarn,
			fmt.Sprintf("%s %s works but is older than the recommended 6.2: %s", name, data.Version, strings.Join(broken, "; ")),
			"upgrade to Redis ≥ 6.2 (7.x recommended)")
	case !v.less(version{7, 0, 0}) && v.less(version{7, 0, 8}):
		add(c, "version", StatusOK, fmt.Sprintf("%s %s (≥ 6.2; note: BZPOPMIN timeouts ≤ 1 ms are fixed in 7.0.8)", name, data.Version), "")
	default:
		add(c, "version", StatusOK, fmt.Sprintf("%s %s (≥ 6.2 recommended, 5.0 minimum)", name, data.Version), "")
	}
}

func (d *diag) checkEviction(c *Check, policy string, maxmemory int64, fromConfig bool) {
	src := ""
	if !fromConfig {
		src = " (from INFO; CONFIG is not available)"
	}
	switch policy {
	case "noeviction":
		add(c, "eviction_ok", StatusOK, "maxmemory-policy is noeviction"+src+": queue keys are never evicted", "")
	case "":
		add(c, "eviction_unknown", StatusWarn, "cannot read maxmemory-policy (CONFIG and INFO do not show it)",
			"make sure the server's maxmemory-policy is noeviction (your provider's console)")
	default:
		limit := "no maxmemory limit is set yet"
		if maxmemory > 0 {
			limit = fmt.Sprintf("maxmemory is %d MB", maxmemory>>20)
		}
		add(c, "eviction_policy", StatusWarn,
			fmt.Sprintf("maxmemory-policy is %s%s (%s): when memory is full Redis deletes keys, including job hashes and locks, and queued jobs are lost or run twice",
				policy, src, limit),
			"CONFIG SET maxmemory-policy noeviction (and CONFIG REWRITE), or set it in the provider's console.\n"+
				"The moderation cache tolerates eviction: if you want allkeys-lru for it, give it a separate Redis\n"+
				"and keep the queues on one with noeviction")
	}
}

func (d *diag) checkPersistence(c *Check, aof bool, save string, saveKnown bool) {
	f := PersistenceFinding(aof, save, saveKnown)
	add(c, f.Code, f.Status, f.Message, f.Fix)
}

// PersistenceFinding judges a server's persistence from its settings, as
// the server check does: aof is "appendonly yes" (or INFO's aof_enabled:1),
// save the RDB "save" setting (CONFIG GET save) and saveKnown whether it
// could be read. Codes: persistence_ok, persistence_off (StatusWarn: queued
// jobs are lost when Redis restarts), persistence_unknown. serve and worker
// use it to warn at startup.
func PersistenceFinding(aof bool, save string, saveKnown bool) Finding {
	save = strings.TrimSpace(save)
	switch {
	case aof:
		return Finding{Code: "persistence_ok", Status: StatusOK, Message: "persistence: AOF on (appendonly yes)"}
	case saveKnown && save != "":
		return Finding{Code: "persistence_ok", Status: StatusOK,
			Message: fmt.Sprintf("persistence: RDB snapshots (save %s), AOF off: jobs added since the last snapshot are lost on a crash", save)}
	case saveKnown:
		return Finding{Code: "persistence_off", Status: StatusWarn,
			Message: "persistence is off (no AOF, no RDB save points): queued jobs are lost when Redis restarts",
			Fix: "CONFIG SET appendonly yes (then CONFIG REWRITE), or start redis-server with --appendonly yes;\n" +
				"on a managed service, enable persistence (AOF) for this database"}
	default:
		return Finding{Code: "persistence_unknown", Status: StatusOK,
			Message: "persistence: AOF off; RDB save points are not visible (CONFIG is not available): check that your provider persists this database"}
	}
}

func (d *diag) checkTopology(ctx context.Context, c *Check, data *ServerData, info map[string]string) {
	prefix := d.t.QueuePrefix
	switch d.t.mode() {
	case "cluster":
		v, err := d.conn.do(ctx, "CLUSTER", "INFO")
		if err != nil {
			add(c, "cluster_info", StatusFail, "CLUSTER INFO failed: "+firstLine(err.Error()),
				"check that REDIS_CLUSTER_ADDRS points at Redis Cluster nodes (cluster-enabled yes)")
			return
		}
		ci := parseInfo(asString(v))
		data.ClusterState = ci["cluster_state"]
		if ci["cluster_state"] != "ok" {
			add(c, "cluster_state", StatusFail,
				fmt.Sprintf("cluster_state is %s (%s of 16384 slots assigned, %s ok): commands on unserved slots fail with CLUSTERDOWN",
					ci["cluster_state"], ci["cluster_slots_assigned"], ci["cluster_slots_ok"]),
				"assign every slot and heal the failed nodes (redis-cli --cluster check / fix)")
		} else {
			add(c, "cluster_state", StatusOK, fmt.Sprintf("cluster_state ok, %s node(s), %s of 16384 slots ok", ci["cluster_known_nodes"], ci["cluster_slots_ok"]), "")
		}
		if _, ok := HashTag(prefix); !ok {
			fix := strings.NewReplacer("{", "", "}", "").Replace(prefix)
			if fix == "" {
				fix = DefaultQueuePrefix
			}
			add(c, "cluster_hash_tag", StatusWarn,
				fmt.Sprintf("the queue prefix %q has no hash tag: unless every queue name carries one ({video-enhancement}), queue scripts fail with CROSSSLOT", prefix),
				"set QUEUE_PREFIX={"+fix+"} (and the same prefix in the Node backend): every key of a queue then\n"+
					"hashes to one slot; to spread queues over several masters, put the tag in the queue names instead")
		}
	case "sentinel":
		if info["role"] != "master" {
			add(c, "sentinel_master", StatusFail,
				fmt.Sprintf("the address sentinel reports for %q is a %s, not a master", d.t.SentinelMaster, info["role"]),
				"a failover is in progress or the sentinels disagree: check SENTINEL MASTERS on each sentinel")
			return
		}
		add(c, "sentinel_master", StatusOK, fmt.Sprintf("sentinel master %q resolves to %s (role master)", d.t.SentinelMaster, d.server), "")
	default:
		if info["role"] == "slave" {
			add(c, "replica", StatusFail, "this server is a read-only replica: every write fails with READONLY",
				"point REDIS_URL / REDIS_HOST at the primary (or use REDIS_SENTINEL_ADDRS so the master is found after failovers)")
		}
		if info["cluster_enabled"] == "1" {
			add(c, "cluster_not_configured", StatusWarn, "this server is a Redis Cluster node but is configured as a single server: keys in other slots fail with MOVED",
				"set REDIS_CLUSTER_ADDRS to the cluster's nodes (and a hash-tagged QUEUE_PREFIX such as {bull})")
		}
	}
}

// HashTag returns the hash tag of key as Redis Cluster computes it: the
// text between the first '{' and the first '}' after it, when not empty.
// Keys with a tag hash only the tag, so they share a slot.
func HashTag(key string) (string, bool) {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return "", false
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return "", false
	}
	return key[i+1 : i+1+j], true
}
