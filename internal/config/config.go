// Package config reads every environment variable of the service once, at
// startup, from an injected getenv function: defaults, validation and
// redaction of secrets live here and nowhere else.
//
// Load returns a *Config or an error that joins one *VarError per invalid
// variable. Error messages name the variable and never contain a password,
// a token, or a URL that carries credentials.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
	"github.com/zyeute/zyeute-redis/secret"
)

// Defaults.
const (
	DefaultRedisPort         = 6379
	DefaultHTTPPort          = 5000
	DefaultQueuePrefix       = queue.DefaultPrefix
	DefaultModerationModel   = "omni-moderation-latest"
	DefaultModerationAPIURL  = "https://api.openai.com/v1/moderations"
	DefaultModerationTTL     = 24 * time.Hour
	DefaultWorkerConcurrency = 10
	MaxWorkerConcurrency     = 1000
	DefaultLockDuration      = 30 * time.Second
	DefaultStalledInterval   = 30 * time.Second
	DefaultShutdownDrain     = 5 * time.Second
	DefaultShutdownTimeout   = 10 * time.Second
)

// Log formats.
const (
	LogText = "text"
	LogJSON = "json"
)

// Moderation providers.
const (
	ProviderRules  = "rules"
	ProviderOpenAI = "openai"
)

// Config is the whole service configuration.
type Config struct {
	Redis      Redis
	HTTP       HTTP
	AdminToken secret.String // ADMIN_TOKEN; empty: admin routes answer 503
	// QueuePrefix is the BullMQ key prefix (QUEUE_PREFIX). Defaults to "bull".
	QueuePrefix string
	Log         Log
	Moderation  Moderation
	Database    Database
	Workers     Workers
	Shutdown    Shutdown
	Media       Media // video-enhancement (media.go)
	// ChainRPC maps a chain ("ethereum", "polygon", "base") to its EVM
	// JSON-RPC endpoint (CHAIN_RPC_ETHEREUM, …). Such URLs often carry an
	// API key in the path or query, so they print fully redacted. A chain
	// without one keeps the local plan of blockchain-sync.
	ChainRPC map[string]secret.String
	// JobsAPI is how the job API (/api/jobs/*) authenticates clients.
	JobsAPI JobsAPI
	// Notices are warnings about the configuration that do not stop the
	// service, for example "REDIS_URL and REDIS_HOST are both set". They
	// never contain a secret. serve logs them at startup.
	Notices []string
}

// HTTP is the HTTP listener configuration.
type HTTP struct {
	// Port is the TCP port (PORT). 0 asks the kernel for a free port.
	// Defaults to 5000.
	Port int
	// Host is the address to bind (HOST): an IP address ("127.0.0.1",
	// "::1", "10.0.0.5") or a host name; empty binds every interface.
	// Defaults to "" (every interface, as containers need).
	Host string
	// TrustProxy (TRUST_PROXY) believes X-Forwarded-Proto from clients:
	// set it only behind a reverse proxy that sets that header. The admin
	// dashboard then marks its cookie Secure under https. Defaults to false.
	TrustProxy bool
}

// Addr is "<host>:<port>" (":<port>" when Host is empty).
func (h HTTP) Addr() string { return net.JoinHostPort(h.Host, strconv.Itoa(h.Port)) }

// Job API authentication modes (JOBS_API_AUTH).
const (
	// JobsAuthLoopback: a token, or a direct loopback client.
	JobsAuthLoopback = "loopback"
	// JobsAuthToken: a token on every request.
	JobsAuthToken = "token"
	// JobsAuthNone: no check (an authenticating gateway in front).
	JobsAuthNone = "none"
)

// JobsAPI is the job API's authentication.
type JobsAPI struct {
	// Token (JOBS_API_TOKEN) is the service token clients send as
	// "Authorization: Bearer <token>"; ADMIN_TOKEN is accepted too.
	// Defaults to "" (only ADMIN_TOKEN, or loopback clients).
	Token secret.String
	// Auth (JOBS_API_AUTH) is "loopback", "token" or "none". Defaults to
	// "loopback": clients other than a direct loopback one need a token.
	Auth string
}

// Log is the logging configuration.
type Log struct {
	// Format is "text" or "json" (LOG_FORMAT). Defaults to "text".
	Format string
	// Level (LOG_LEVEL: debug, info, warn, error). Defaults to info.
	Level slog.Level
	// Access (ACCESS_LOG) logs every HTTP request at info level. Defaults
	// to false (requests are logged at debug level).
	Access bool
}

// Moderation is the moderation configuration.
type Moderation struct {
	// Provider is "rules" or "openai" (MODERATION_PROVIDER). Defaults to "rules".
	Provider string
	// APIURL is the OpenAI-compatible moderation endpoint (MODERATION_API_URL).
	// Defaults to the OpenAI endpoint when Provider is "openai". It may hold
	// credentials, so it prints redacted; Reveal it to use it.
	APIURL SecretURL
	// APIKey (MODERATION_API_KEY). Required for "openai" unless APIURL is set.
	APIKey secret.String
	// Model (MODERATION_MODEL). Defaults to "omni-moderation-latest".
	Model string
	// CacheTTL (MODERATION_CACHE_TTL). Defaults to 24h.
	CacheTTL time.Duration
	// MaxConcurrent (MODERATION_MAX_CONCURRENT) bounds the moderation
	// requests served at once; more are answered 503. Defaults to 16.
	MaxConcurrent int
}

// Database is the application database: PostgreSQL when DATABASE_URL is
// set, else an embedded SQLite file under DataDir (see internal/store).
type Database struct {
	// URL is DATABASE_URL (it usually carries a password, so it prints
	// redacted).
	URL SecretURL
	// Addr is the host:port taken from URL (port 5432 when absent), for
	// the health check. Empty when URL is empty.
	Addr string
	// DataDir (DATA_DIR) holds the embedded SQLite file zyeute.db when
	// URL is empty. Defaults to "data" (relative to the working directory).
	DataDir string
	// ExportDir (PRIVACY_EXPORT_DIR) receives the Loi 25 access exports.
	// Defaults to DataDir/exports.
	ExportDir string
}

// Configured reports whether DATABASE_URL is set.
func (d Database) Configured() bool { return d.URL != "" }

// Workers is the in-process worker configuration.
type Workers struct {
	// Enabled runs the workers inside serve (WORKERS). Defaults to true.
	Enabled bool
	// Concurrency per queue (WORKER_CONCURRENCY). Defaults to 10.
	Concurrency int
	// LockDuration is the TTL of a running job's lock
	// (WORKER_LOCK_DURATION, 1s–24h). A crashed worker's jobs are
	// recovered once it expires. Defaults to 30s.
	LockDuration time.Duration
	// StalledInterval is the time between stalled checks
	// (WORKER_STALLED_INTERVAL, 1s–LockDuration). Defaults to the smaller
	// of 30s and LockDuration.
	StalledInterval time.Duration
}

// Shutdown is the graceful stop configuration (SIGINT/SIGTERM).
type Shutdown struct {
	// Drain is how long serve keeps serving with /readyz answering 503
	// before it closes the listener, so that load balancers stop sending
	// traffic first (SHUTDOWN_DRAIN, 0–5m). Defaults to 5s.
	Drain time.Duration
	// Timeout bounds the HTTP drain of in-flight requests, then separately
	// the stop of the workers; jobs still running then are handed back
	// to their queue (SHUTDOWN_TIMEOUT, 100ms–1h). Defaults to 10s.
	Timeout time.Duration
}

// Load reads and validates the configuration. getenv is usually os.Getenv;
// tests pass a map lookup. Every invalid variable is reported (errors.Join
// of *VarError), and errors.Is(err, ErrInvalid) holds.
func Load(getenv func(string) string) (*Config, error) {
	if getenv == nil {
		return nil, errors.New("config: getenv is nil")
	}
	l := loader{getenv: getenv}
	c := &Config{}
	c.Redis = l.redis()
	c.HTTP.Port = l.port("PORT", DefaultHTTPPort, true)
	c.AdminToken = secret.String(l.get("ADMIN_TOKEN"))
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		l.notice("ADMIN_TOKEN is shorter than 16 characters: use a long random token")
	}
	c.QueuePrefix = l.str("QUEUE_PREFIX", DefaultQueuePrefix)
	if strings.ContainsAny(c.QueuePrefix, " \t\r\n") {
		l.fail("QUEUE_PREFIX", "must not contain white space")
	}
	c.Log.Format = l.enum("LOG_FORMAT", LogText, LogText, LogJSON)
	c.Log.Level = l.level("LOG_LEVEL")
	c.Log.Access = l.boolean("ACCESS_LOG", false)
	c.Moderation = l.moderation()
	c.Database = l.database()
	c.Workers.Enabled = l.boolean("WORKERS", true)
	c.Workers.Concurrency = l.integer("WORKER_CONCURRENCY", DefaultWorkerConcurrency, 1, MaxWorkerConcurrency)
	c.Workers.LockDuration, c.Workers.StalledInterval = l.locks()
	c.Shutdown.Drain = l.durationIn("SHUTDOWN_DRAIN", DefaultShutdownDrain, 0, 5*time.Minute)
	c.Shutdown.Timeout = l.durationIn("SHUTDOWN_TIMEOUT", DefaultShutdownTimeout, 100*time.Millisecond, time.Hour)
	c.HTTP.Host = l.host("HOST")
	c.HTTP.TrustProxy = l.boolean("TRUST_PROXY", false)
	c.JobsAPI = l.jobsAPI(c.AdminToken)
	c.Media = l.media()
	c.ChainRPC = l.chainRPC()
	c.Notices = l.notices
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return c, nil
}

// RedisTarget describes where Redis is, password redacted: "host:port",
// "rediss://host:port/db", "sentinel mymaster via a:26379,b:26379",
// "cluster a:7000,b:7001", or "not configured".
func (c *Config) RedisTarget() string { return c.Redis.Target() }

type loader struct {
	getenv  func(string) string
	errs    []error
	notices []string
}

func (l *loader) get(name string) string { return strings.TrimSpace(l.getenv(name)) }

func (l *loader) fail(name, format string, a ...any) {
	l.errs = append(l.errs, varErr(name, format, a...))
}

func (l *loader) notice(format string, a ...any) {
	l.notices = append(l.notices, fmt.Sprintf(format, a...))
}

func (l *loader) str(name, def string) string {
	if v := l.get(name); v != "" {
		return v
	}
	return def
}

func (l *loader) enum(name, def string, allowed ...string) string {
	v := strings.ToLower(l.get(name))
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	l.fail(name, "must be one of %s, got %s", strings.Join(allowed, ", "), shortQuote(v))
	return def
}

func (l *loader) level(name string) slog.Level {
	switch v := strings.ToLower(l.get(name)); v {
	case "", "info":
		return slog.LevelInfo
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		l.fail(name, "must be one of debug, info, warn, error, got %s", shortQuote(v))
		return slog.LevelInfo
	}
}

// parseBool accepts true/false, 1/0, yes/no, on/off (any case).
func parseBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "1", "t", "true", "yes", "y", "on":
		return true, true
	case "0", "f", "false", "no", "n", "off":
		return false, true
	}
	return false, false
}

func (l *loader) boolean(name string, def bool) bool {
	v := l.get(name)
	if v == "" {
		return def
	}
	b, ok := parseBool(v)
	if !ok {
		l.fail(name, "must be true or false, got %s", shortQuote(v))
		return def
	}
	return b
}

func (l *loader) integer(name string, def, min, max int) int {
	v := l.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		l.fail(name, "must be a whole number between %d and %d, got %s", min, max, shortQuote(v))
		return def
	}
	return n
}

func (l *loader) port(name string, def int, allowZero bool) int {
	min := 1
	if allowZero {
		min = 0
	}
	v := l.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > 65535 {
		l.fail(name, "must be a port number between %d and 65535, got %s", min, shortQuote(v))
		return def
	}
	return n
}

// duration accepts a Go duration ("24h", "90m") or a whole number of seconds.
func (l *loader) duration(name string, def time.Duration) time.Duration {
	v := l.get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.ParseInt(v, 10, 64)
		if nerr != nil || n > int64(1<<63-1)/int64(time.Second) {
			l.fail(name, "must be a duration such as 24h or 90m, or a number of seconds, got %s", shortQuote(v))
			return def
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 {
		l.fail(name, "must be positive, got %s", shortQuote(v))
		return def
	}
	return d
}

// durationIn is duration with bounds (min may be 0).
func (l *loader) durationIn(name string, def, min, max time.Duration) time.Duration {
	v := l.get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.ParseInt(v, 10, 64)
		if nerr != nil || n < 0 || n > int64(max/time.Second)+1 {
			l.fail(name, "must be a duration between %s and %s such as 5s or 1m30s, or a number of seconds, got %s", fmtDur(min), fmtDur(max), shortQuote(v))
			return def
		}
		d = time.Duration(n) * time.Second
	}
	if d < min || d > max {
		l.fail(name, "must be between %s and %s, got %s", fmtDur(min), fmtDur(max), shortQuote(v))
		return def
	}
	return d
}

// fmtDur prints 5m rather than 5m0s.
func fmtDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// locks reads WORKER_LOCK_DURATION and WORKER_STALLED_INTERVAL. The
// interval may not exceed the lock: a crashed worker's job comes back
// after its lock expires plus up to one interval, so a longer interval
// only delays recovery.
func (l *loader) locks() (lock, stalled time.Duration) {
	lock = l.durationIn("WORKER_LOCK_DURATION", DefaultLockDuration, time.Second, 24*time.Hour)
	stalled = l.durationIn("WORKER_STALLED_INTERVAL", min(DefaultStalledInterval, lock), time.Second, 24*time.Hour)
	if stalled > lock {
		l.fail("WORKER_STALLED_INTERVAL", "must not exceed WORKER_LOCK_DURATION (%s), got %s: a crashed worker's jobs are recovered after the lock expires and the next check runs, so a longer interval only delays recovery",
			lock, shortQuote(l.get("WORKER_STALLED_INTERVAL")))
		stalled = lock
	}
	return lock, stalled
}

// MODERATION_MAX_CONCURRENT: default and largest value.
const (
	DefaultModerationMaxConcurrent = 16
	MaxModerationMaxConcurrent     = 10000
)

func (l *loader) moderation() Moderation {
	m := Moderation{
		Provider: l.enum("MODERATION_PROVIDER", ProviderRules, ProviderRules, ProviderOpenAI),
		APIURL:   SecretURL(l.get("MODERATION_API_URL")),
		APIKey:   secret.String(l.get("MODERATION_API_KEY")),
		Model:    l.str("MODERATION_MODEL", DefaultModerationModel),
		CacheTTL: l.duration("MODERATION_CACHE_TTL", DefaultModerationTTL),
	}
	m.MaxConcurrent = l.integer("MODERATION_MAX_CONCURRENT", DefaultModerationMaxConcurrent, 1, MaxModerationMaxConcurrent)
	if m.APIURL != "" {
		if msg := checkHTTPURL(m.APIURL.Reveal()); msg != "" {
			l.fail("MODERATION_API_URL", "%s", msg)
		}
	}
	if m.Provider == ProviderOpenAI {
		if m.APIURL == "" {
			if m.APIKey == "" {
				l.fail("MODERATION_API_KEY", "is required when MODERATION_PROVIDER=openai (or set MODERATION_API_URL to a compatible endpoint that needs no key)")
			}
			m.APIURL = DefaultModerationAPIURL
		}
	}
	return m
}

// ChainRPCChains are the EVM chains whose CHAIN_RPC_<CHAIN> is read.
var ChainRPCChains = []string{"ethereum", "polygon", "base"}

func (l *loader) chainRPC() map[string]secret.String {
	var m map[string]secret.String
	for _, chain := range ChainRPCChains {
		name := "CHAIN_RPC_" + strings.ToUpper(chain)
		raw := l.get(name)
		if raw == "" {
			continue
		}
		if msg := checkHTTPURL(raw); msg != "" {
			l.fail(name, "%s", msg)
			continue
		}
		if m == nil {
			m = map[string]secret.String{}
		}
		m[chain] = secret.String(raw)
	}
	return m
}

// misplacedAt reports a URL whose path, query or fragment holds '@' or
// whose text holds '#': almost always a password with an unencoded '/', '?'
// or '#', which would otherwise be printed as part of the path.
func misplacedAt(u *url.URL, raw string) bool {
	return strings.Contains(u.Path+u.RawPath+u.RawQuery+u.Fragment, "@") || strings.Contains(raw, "#")
}

// checkHTTPURL validates an http(s) URL without echoing it.
func checkHTTPURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return "is not a valid URL"
	}
	if misplacedAt(u, raw) {
		return "is not a valid URL (percent-encode '/', '?', '#' and '@' in the password)"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "must start with http:// or https://"
	}
	if u.Hostname() == "" {
		return "has no host"
	}
	return ""
}

// RedactURL prints a URL with its password replaced by "xxxxx" and its
// query and fragment dropped, or a placeholder when it does not parse or
// looks like a password leaked out of the user info. It never echoes an
// unparsable URL.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || misplacedAt(u, raw) {
		return "(unparsable URL)"
	}
	u.RawQuery, u.Fragment, u.RawFragment, u.ForceQuery = "", "", "", false
	return u.Redacted()
}

func (l *loader) database() Database {
	raw := l.get("DATABASE_URL")
	dataDir := l.str("DATA_DIR", "data")
	exportDir := l.str("PRIVACY_EXPORT_DIR", filepath.Join(dataDir, "exports"))
	if raw == "" {
		return Database{DataDir: dataDir, ExportDir: exportDir}
	}
	d := Database{URL: SecretURL(raw), DataDir: dataDir, ExportDir: exportDir}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || misplacedAt(u, raw) {
		l.fail("DATABASE_URL", "is not a valid URL (percent-encode '/', '?', '#' and '@' in the password)")
		return d
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		l.fail("DATABASE_URL", "must start with postgres:// or postgresql://")
		return d
	}
	host := u.Hostname()
	if host == "" {
		host = "localhost"
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		l.fail("DATABASE_URL", "has an invalid port (1-65535)")
		return d
	}
	d.Addr = net.JoinHostPort(host, port)
	return d
}

// host validates a bind address: an IP (IPv6 with or without brackets) or
// a host name, without a port.
func (l *loader) host(name string) string {
	v := l.get(name)
	if v == "" {
		return ""
	}
	if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
		v = v[1 : len(v)-1]
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return v
	}
	if strings.Contains(v, ":") {
		l.fail(name, "must be an IP address or a host name without a port (set the port with PORT), got %s", shortQuote(v))
		return ""
	}
	badChar := func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-')
	}
	if len(v) > 253 || strings.ContainsFunc(v, badChar) {
		l.fail(name, "must be an IP address or a host name, got %s", shortQuote(v))
		return ""
	}
	return v
}

func (l *loader) jobsAPI(admin secret.String) JobsAPI {
	j := JobsAPI{
		Token: secret.String(l.get("JOBS_API_TOKEN")),
		Auth:  l.enum("JOBS_API_AUTH", JobsAuthLoopback, JobsAuthLoopback, JobsAuthToken, JobsAuthNone),
	}
	if j.Token.IsSet() && len(j.Token) < 16 {
		l.notice("JOBS_API_TOKEN is shorter than 16 characters: use a long random token")
	}
	if j.Auth == JobsAuthToken && !j.Token.IsSet() && !admin.IsSet() {
		l.fail("JOBS_API_AUTH", "is token but neither JOBS_API_TOKEN nor ADMIN_TOKEN is set")
	}
	if j.Auth == JobsAuthNone {
		l.notice("JOBS_API_AUTH=none: the job API (/api/jobs/*) accepts every client; put an authenticating proxy in front")
	}
	return j
}
