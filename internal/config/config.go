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
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults.
const (
	DefaultRedisPort         = 6379
	DefaultHTTPPort          = 5000
	DefaultQueuePrefix       = "bull"
	DefaultModerationModel   = "omni-moderation-latest"
	DefaultModerationAPIURL  = "https://api.openai.com/v1/moderations"
	DefaultModerationTTL     = 24 * time.Hour
	DefaultWorkerConcurrency = 10
	MaxWorkerConcurrency     = 1000
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
	AdminToken Secret // ADMIN_TOKEN; empty: admin routes answer 503
	// QueuePrefix is the BullMQ key prefix (QUEUE_PREFIX). Defaults to "bull".
	QueuePrefix string
	Log         Log
	Moderation  Moderation
	Database    Database
	Workers     Workers
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
}

// Addr is ":<port>".
func (h HTTP) Addr() string { return ":" + strconv.Itoa(h.Port) }

// Log is the logging configuration.
type Log struct {
	// Format is "text" or "json" (LOG_FORMAT). Defaults to "text".
	Format string
	// Level (LOG_LEVEL: debug, info, warn, error). Defaults to info.
	Level slog.Level
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
	APIKey Secret
	// Model (MODERATION_MODEL). Defaults to "omni-moderation-latest".
	Model string
	// CacheTTL (MODERATION_CACHE_TTL). Defaults to 24h.
	CacheTTL time.Duration
	// MaxConcurrent (MODERATION_MAX_CONCURRENT) bounds the moderation
	// requests served at once; more are answered 503. Defaults to 16.
	MaxConcurrent int
}

// Database is the optional SQL database, reported in health only.
type Database struct {
	// URL is DATABASE_URL (it usually carries a password, so it prints
	// redacted).
	URL SecretURL
	// Addr is the host:port taken from URL (port 5432 when absent), for
	// the health check. Empty when URL is empty.
	Addr string
}

// Configured reports whether DATABASE_URL is set.
func (d Database) Configured() bool { return d.URL != "" }

// Workers is the in-process worker configuration.
type Workers struct {
	// Enabled runs the workers inside serve (WORKERS). Defaults to true.
	Enabled bool
	// Concurrency per queue (WORKER_CONCURRENCY). Defaults to 10.
	Concurrency int
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
	c.AdminToken = Secret(l.get("ADMIN_TOKEN"))
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		l.notice("ADMIN_TOKEN is shorter than 16 characters: use a long random token")
	}
	c.QueuePrefix = l.str("QUEUE_PREFIX", DefaultQueuePrefix)
	if strings.ContainsAny(c.QueuePrefix, " \t\r\n") {
		l.fail("QUEUE_PREFIX", "must not contain white space")
	}
	c.Log.Format = l.enum("LOG_FORMAT", LogText, LogText, LogJSON)
	c.Log.Level = l.level("LOG_LEVEL")
	c.Moderation = l.moderation()
	c.Database = l.database()
	c.Workers.Enabled = l.boolean("WORKERS", true)
	c.Workers.Concurrency = l.integer("WORKER_CONCURRENCY", DefaultWorkerConcurrency, 1, MaxWorkerConcurrency)
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

// MODERATION_MAX_CONCURRENT: default and largest value.
const (
	DefaultModerationMaxConcurrent = 16
	MaxModerationMaxConcurrent     = 10000
)

func (l *loader) moderation() Moderation {
	m := Moderation{
		Provider: l.enum("MODERATION_PROVIDER", ProviderRules, ProviderRules, ProviderOpenAI),
		APIURL:   SecretURL(l.get("MODERATION_API_URL")),
		APIKey:   Secret(l.get("MODERATION_API_KEY")),
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
	if raw == "" {
		return Database{}
	}
	d := Database{URL: SecretURL(raw)}
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
