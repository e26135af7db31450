package doctor

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/zyeute/zyeute-redis/queue"
)

// Configuration sources, as the variables are named.
const (
	SourceURL      = "REDIS_URL"
	SourceHost     = "REDIS_HOST"
	SourceSentinel = "REDIS_SENTINEL_ADDRS"
	SourceCluster  = "REDIS_CLUSTER_ADDRS"
)

// DefaultQueuePrefix is BullMQ's default key prefix (queue.DefaultPrefix).
const DefaultQueuePrefix = queue.DefaultPrefix

// Target is the Redis setup to diagnose, as the configuration describes it.
// It is doctor's own input so that the package does not depend on how the
// environment is parsed. The password never prints: String, GoString,
// LogValue and the report all redact it.
type Target struct {
	// Source is the variable the address came from: SourceURL,
	// SourceHost, SourceSentinel or SourceCluster. Empty means Redis is not
	// configured. Defaults to "" (not configured).
	Source string
	// Ignored lists variables that were set but lost to REDIS_URL (for
	// example REDIS_HOST, REDIS_PASSWORD). Defaults to none.
	Ignored []string
	// Notices are warnings from the configuration loader about Redis (for
	// example "REDIS_TLS_CA_FILE is set but TLS is off"); each becomes a
	// warning of the configuration check. Defaults to none.
	Notices []string
	// Errors are configuration errors from the loader (a malformed
	// REDIS_URL…), already free of secrets; any makes the configuration
	// check fail and the rest skipped. Defaults to none.
	Errors []string
	// Host and Port are the server (single mode). Port defaults to 6379.
	Host string
	Port int
	// Username is the ACL user. Defaults to "" (the user "default").
	Username string
	// Password is sent with AUTH and never printed. Defaults to "" (no AUTH).
	Password string
	// DB is the database number. Defaults to 0.
	DB int
	// TLS is on for rediss:// or REDIS_TLS=true. Defaults to false.
	TLS bool
	// CAFile is REDIS_TLS_CA_FILE, a PEM bundle of the CA(s) to trust.
	// Defaults to "" (the system roots).
	CAFile string
	// TLSConfig is an optional prebuilt client TLS configuration; when set
	// it is used as is (cloned) and CAFile only shows in the report.
	// Defaults to nil.
	TLSConfig *tls.Config
	// SentinelAddrs are host:port addresses of sentinels; with them,
	// SentinelMaster names the monitored master. Defaults to none.
	SentinelAddrs  []string
	SentinelMaster string
	// ClusterAddrs are host:port seed nodes of a Redis Cluster. Defaults to
	// none.
	ClusterAddrs []string
	// QueuePrefix is the BullMQ key prefix (QUEUE_PREFIX). Defaults to
	// "bull".
	QueuePrefix string
	// Database is the application database for the database check.
	// Defaults to nil (the check says it was not given one).
	Database *Database
}

// Configured reports whether any Redis address is set.
func (t Target) Configured() bool {
	return t.Source != "" || t.Host != "" || len(t.SentinelAddrs) > 0 || len(t.ClusterAddrs) > 0 || len(t.Errors) > 0
}

func (t Target) withDefaults() Target {
	if t.Port == 0 {
		t.Port = 6379
	}
	if t.QueuePrefix == "" {
		t.QueuePrefix = DefaultQueuePrefix
	}
	if t.Source == "" {
		switch {
		case len(t.SentinelAddrs) > 0:
			t.Source = SourceSentinel
		case len(t.ClusterAddrs) > 0:
			t.Source = SourceCluster
		case t.Host != "":
			t.Source = SourceHost
		}
	}
	return t
}

func (t Target) mode() string {
	switch {
	case len(t.SentinelAddrs) > 0:
		return "sentinel"
	case len(t.ClusterAddrs) > 0:
		return "cluster"
	}
	return "single"
}

const redactedPassword = "****"

// Redacted is the target as a URL with the password replaced by ****; for
// sentinel and cluster it lists the addresses.
func (t Target) Redacted() string {
	t = t.withDefaults()
	scheme := "redis"
	if t.TLS {
		scheme = "rediss"
	}
	var user string
	switch {
	case t.Username != "" && t.Password != "":
		user = url.PathEscape(t.Username) + ":" + redactedPassword + "@"
	case t.Password != "":
		user = ":" + redactedPassword + "@"
	case t.Username != "":
		user = url.PathEscape(t.Username) + "@"
	}
	db := ""
	if t.DB != 0 {
		db = "/" + strconv.Itoa(t.DB)
	}
	switch t.mode() {
	case "sentinel":
		return fmt.Sprintf("sentinel master %q via %s://%s%s%s", t.SentinelMaster, scheme, user, strings.Join(t.SentinelAddrs, ","), db)
	case "cluster":
		return fmt.Sprintf("cluster %s://%s%s", scheme, user, strings.Join(t.ClusterAddrs, ","))
	}
	if !t.Configured() {
		return "not configured"
	}
	return scheme + "://" + user + net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) + db
}

// String implements fmt.Stringer with the password redacted.
func (t Target) String() string { return t.Redacted() }

// GoString implements fmt.GoStringer (%#v) with the password redacted.
func (t Target) GoString() string { return "doctor.Target(" + strconv.Quote(t.Redacted()) + ")" }

// LogValue implements slog.LogValuer with the password redacted.
func (t Target) LogValue() slog.Value { return slog.StringValue(t.Redacted()) }

// endpoint is one host:port to reach.
type endpoint struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

func (e endpoint) String() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

func parseEndpoint(s string, defPort int) (endpoint, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return endpoint{}, fmt.Errorf("empty address")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port given.
		return endpoint{Host: strings.Trim(s, "[]"), Port: defPort}, nil
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return endpoint{}, fmt.Errorf("invalid port in %q", s)
	}
	if host == "" {
		return endpoint{}, fmt.Errorf("no host in %q", s)
	}
	return endpoint{Host: host, Port: p}, nil
}

// isLoopback reports whether host is a loopback IP or "localhost".
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
