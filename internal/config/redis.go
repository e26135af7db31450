package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/zyeute/zyeute-redis/redisconn"
	"github.com/zyeute/zyeute-redis/secret"
)

// RedisMode is the Redis topology.
type RedisMode string

// Redis topologies.
const (
	ModeSingle   RedisMode = "single"
	ModeSentinel RedisMode = "sentinel"
	ModeCluster  RedisMode = "cluster"
)

// Source names where the Redis address came from.
const (
	SourceURL      = "REDIS_URL"
	SourceHost     = "REDIS_HOST"
	SourceSentinel = "REDIS_SENTINEL_ADDRS"
	SourceCluster  = "REDIS_CLUSTER_ADDRS"
)

// Redis is the Redis connection configuration. The zero value means "not
// configured": neither REDIS_URL, REDIS_HOST, REDIS_SENTINEL_ADDRS nor
// REDIS_CLUSTER_ADDRS is set.
type Redis struct {
	// Source is the variable the address came from (SourceURL, …); empty
	// when not configured.
	Source string
	// Mode is single, sentinel or cluster.
	Mode RedisMode
	// Addrs are host:port addresses: the server (single), the sentinels
	// (sentinel) or the seed nodes (cluster).
	Addrs []string
	// Host is the server's host name (single) used for TLS ServerName.
	Host     string
	Username string
	Password secret.String
	// DB is the database number. Defaults to 0.
	DB int
	// TLS is on for rediss:// or REDIS_TLS=true. Defaults to false.
	TLS bool
	// CAFile is REDIS_TLS_CA_FILE; RootCAs is its parsed content (nil:
	// system roots).
	CAFile  string
	RootCAs *x509.CertPool
	// SentinelMaster is REDIS_SENTINEL_MASTER.
	SentinelMaster string
}

// Configured reports whether any Redis address is set.
func (r Redis) Configured() bool { return r.Source != "" }

// Target describes the server(s) for logs, password never included.
func (r Redis) Target() string { return r.Conn().Target() }

// RedisAdvice names the environment variables in redisconn's error
// messages.
var RedisAdvice = redisconn.Advice{
	Password:      "REDIS_PASSWORD or put the password in REDIS_URL",
	CA:            "REDIS_TLS_CA_FILE",
	TLSOn:         "rediss:// or REDIS_TLS=true",
	TLSOff:        "redis:// or REDIS_TLS=false",
	NotConfigured: "REDIS_URL or REDIS_HOST not set",
}

// Conn translates r into the connection library's configuration (TLS 1.2
// at least, verified against RootCAs or the system roots), with advice
// naming the environment variables. The one place where environment
// settings become a redisconn.Config: the service and tests use it.
func (r Redis) Conn() redisconn.Config {
	c := redisconn.Config{
		Mode: redisconn.Mode(r.Mode), Addrs: r.Addrs, Username: r.Username, Password: r.Password,
		DB: r.DB, SentinelMaster: r.SentinelMaster, Advice: RedisAdvice,
	}
	if !r.Configured() {
		c.Addrs = nil
	}
	if r.TLS {
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: r.RootCAs}
	}
	return c
}

func (l *loader) redis() Redis {
	rawURL := l.get("REDIS_URL")
	host := l.get("REDIS_HOST")
	sentinels := l.get("REDIS_SENTINEL_ADDRS")
	master := l.get("REDIS_SENTINEL_MASTER")
	cluster := l.get("REDIS_CLUSTER_ADDRS")

	var r Redis
	switch {
	case rawURL != "":
		r = l.redisFromURL(rawURL)
		var ignored []string
		for _, name := range []string{"REDIS_HOST", "REDIS_PORT", "REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_TLS", "REDIS_DB"} {
			if l.get(name) != "" {
				ignored = append(ignored, name)
			}
		}
		if len(ignored) > 0 {
			l.notice("REDIS_URL is set and wins: ignoring %s", strings.Join(ignored, ", "))
		}
	case host != "" || sentinels != "" || cluster != "":
		r = l.redisFromParts(host)
	}

	if master != "" && sentinels == "" {
		l.fail("REDIS_SENTINEL_MASTER", "is set but REDIS_SENTINEL_ADDRS is empty")
	}
	switch {
	case sentinels != "" && cluster != "":
		l.fail("REDIS_CLUSTER_ADDRS", "cannot be combined with REDIS_SENTINEL_ADDRS: choose one mode")
	case sentinels != "":
		r.Mode, r.Source = ModeSentinel, SourceSentinel
		r.Addrs = l.addrList("REDIS_SENTINEL_ADDRS", sentinels, 26379)
		r.SentinelMaster = master
		if master == "" {
			l.fail("REDIS_SENTINEL_MASTER", "is required with REDIS_SENTINEL_ADDRS (the monitored master's name)")
		}
		r.Host = ""
	case cluster != "":
		r.Mode, r.Source = ModeCluster, SourceCluster
		r.Addrs = l.addrList("REDIS_CLUSTER_ADDRS", cluster, DefaultRedisPort)
		if r.DB != 0 {
			l.fail("REDIS_DB", "must be 0 with REDIS_CLUSTER_ADDRS (Redis Cluster has only database 0)")
		}
		r.Host = ""
	}

	if ca := l.get("REDIS_TLS_CA_FILE"); ca != "" {
		r.CAFile = ca
		pool, msg := loadCA(ca)
		if msg != "" {
			l.fail("REDIS_TLS_CA_FILE", "%s", msg)
		}
		r.RootCAs = pool
		if r.Configured() && !r.TLS {
			l.notice("REDIS_TLS_CA_FILE is set but TLS is off: use rediss:// or REDIS_TLS=true")
		}
	}
	return r
}

// redisFromURL parses REDIS_URL. Error messages never echo any part of the
// URL: a password with a stray '/', '?' or '#' ends up in the host or path.
func (l *loader) redisFromURL(raw string) Redis {
	const name = "REDIS_URL"
	r := Redis{Source: SourceURL, Mode: ModeSingle}
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "://") {
			l.fail(name, "is not a valid URL (percent-encode special characters in the password, e.g. %%2F for /, %%40 for @)")
		} else {
			l.fail(name, "is not a valid URL: expected redis://[user[:password]@]host[:port][/db] or rediss://…")
		}
		return r
	}
	switch strings.ToLower(u.Scheme) {
	case "redis":
	case "rediss":
		r.TLS = true
	case "":
		l.fail(name, "has no scheme: expected redis://[user[:password]@]host[:port][/db] or rediss://…")
		return r
	default:
		l.fail(name, "has an unsupported scheme: use redis:// or rediss:// (unix sockets are not supported)")
		return r
	}
	if u.Opaque != "" {
		l.fail(name, "is not a valid URL: expected redis://host…")
		return r
	}
	if u.User != nil {
		r.Username = u.User.Username()
		if p, ok := u.User.Password(); ok {
			r.Password = secret.String(p)
		}
	}
	host := u.Hostname()
	if host == "" {
		l.fail(name, "has no host")
		return r
	}
	if msg := checkHost(host); msg != "" {
		l.fail(name, "%s", msg)
		return r
	}
	port := DefaultRedisPort
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			l.fail(name, "has an invalid port: must be between 1 and 65535")
			return r
		}
		port = n
	} else if strings.HasSuffix(u.Host, ":") {
		l.fail(name, "has an empty port")
		return r
	}
	if path := strings.Trim(u.Path, "/"); path != "" {
		n, err := strconv.Atoi(path)
		if err != nil || n < 0 || n > 15 {
			l.fail(name, "has an invalid database in its path: must be /0 to /15 (a '/' in the password must be written %%2F)")
			return r
		}
		r.DB = n
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		l.fail(name, "must not contain '#' (a '#' in the password must be written %%23)")
		return r
	}
	q := u.Query()
	for key := range q {
		switch key {
		case "db":
		default:
			l.fail(name, "has an unsupported query parameter (supported: db)")
			return r
		}
	}
	if v := q.Get("db"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 15 {
			l.fail(name, "has an invalid db parameter: must be 0 to 15")
			return r
		}
		r.DB = n
	}
	r.Host = host
	r.Addrs = []string{net.JoinHostPort(host, strconv.Itoa(port))}
	return r
}

func (l *loader) redisFromParts(host string) Redis {
	r := Redis{Source: SourceHost, Mode: ModeSingle}
	r.Username = l.get("REDIS_USERNAME")
	// A password may legitimately start or end with spaces: take it raw.
	r.Password = secret.String(l.getenv("REDIS_PASSWORD"))
	r.TLS = l.boolean("REDIS_TLS", false)
	r.DB = l.integer("REDIS_DB", 0, 0, 15)
	port := l.port("REDIS_PORT", DefaultRedisPort, false)
	if host == "" {
		return r
	}
	if strings.Contains(host, "://") || strings.Contains(host, "@") {
		l.fail("REDIS_HOST", "must be a host name or IP address; put URLs in REDIS_URL")
		return r
	}
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.Contains(h, ":") && net.ParseIP(h) == nil {
		l.fail("REDIS_HOST", "must not contain a port: use REDIS_PORT")
		return r
	}
	if msg := checkHost(h); msg != "" {
		l.fail("REDIS_HOST", "%s", msg)
		return r
	}
	r.Host = h
	r.Addrs = []string{net.JoinHostPort(h, strconv.Itoa(port))}
	return r
}

// checkHost rejects characters no host name or IP literal has.
func checkHost(h string) string {
	if len(h) > 253 {
		return "has a host name longer than 253 characters"
	}
	if strings.Contains(h, "%") {
		// IPv6 zones are not useful for a Redis server; reject to stay simple.
		return "has an invalid host (zones such as %eth0 are not supported)"
	}
	if net.ParseIP(h) != nil {
		return ""
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "has an invalid host name"
		}
	}
	return ""
}

// addrList parses "host:port,host:port"; a missing port takes defPort.
func (l *loader) addrList(name, v string, defPort int) []string {
	var out []string
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		host, port, err := net.SplitHostPort(part)
		if err != nil {
			host, port = strings.TrimSuffix(strings.TrimPrefix(part, "["), "]"), strconv.Itoa(defPort)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			l.fail(name, "has an invalid port in %s", shortQuote(part))
			return nil
		}
		if host == "" || checkHost(host) != "" {
			l.fail(name, "has an invalid host in %s", shortQuote(part))
			return nil
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	if len(out) == 0 {
		l.fail(name, "must list host:port addresses separated by commas")
	}
	return out
}

// loadCA reads a PEM bundle and returns a pool, or a message.
func loadCA(path string) (*x509.CertPool, string) {
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, "file " + shortQuote(path) + " does not exist"
		}
		return nil, "cannot read " + shortQuote(path) + ": permission denied or not a file"
	}
	pool := x509.NewCertPool()
	n := 0
	rest := b
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, "file " + shortQuote(path) + " holds a certificate that does not parse"
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, "file " + shortQuote(path) + " holds no PEM certificate"
	}
	return pool, ""
}
