package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/redistest"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeCA(t *testing.T) string {
	t.Helper()
	ca, err := redistest.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.Configured() || c.RedisTarget() != "not configured" {
		t.Errorf("redis = %+v, target %q", c.Redis, c.RedisTarget())
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"port", c.HTTP.Port, 5000},
		{"prefix", c.QueuePrefix, "bull"},
		{"log format", c.Log.Format, "text"},
		{"log level", c.Log.Level, slog.LevelInfo},
		{"provider", c.Moderation.Provider, "rules"},
		{"model", c.Moderation.Model, "omni-moderation-latest"},
		{"ttl", c.Moderation.CacheTTL, 24 * time.Hour},
		{"moderation max concurrent", c.Moderation.MaxConcurrent, 16},
		{"workers", c.Workers.Enabled, true},
		{"concurrency", c.Workers.Concurrency, 10},
		{"db configured", c.Database.Configured(), false},
		{"admin", c.AdminToken.IsSet(), false},
		{"notices", len(c.Notices), 0},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestRedisAccepted(t *testing.T) {
	t.Parallel()
	caFile := writeCA(t)
	tests := []struct {
		name     string
		env      map[string]string
		addrs    []string
		host     string
		user     string
		password string
		db       int
		tls      bool
		mode     RedisMode
		source   string
		target   string
	}{
		{name: "url plain", env: map[string]string{"REDIS_URL": "redis://localhost"},
			addrs: []string{"localhost:6379"}, host: "localhost", target: "localhost:6379"},
		{name: "url port", env: map[string]string{"REDIS_URL": "redis://redis.example.com:6380"},
			addrs: []string{"redis.example.com:6380"}, host: "redis.example.com", target: "redis.example.com:6380"},
		{name: "url user and password", env: map[string]string{"REDIS_URL": "redis://app:s3cret@10.0.0.5:6379"},
			addrs: []string{"10.0.0.5:6379"}, host: "10.0.0.5", user: "app", password: "s3cret", target: "10.0.0.5:6379"},
		{name: "url password only", env: map[string]string{"REDIS_URL": "redis://:s3cr3t-pw@host"},
			addrs: []string{"host:6379"}, host: "host", password: "s3cr3t-pw"},
		{name: "url db path", env: map[string]string{"REDIS_URL": "redis://host:6379/3"},
			addrs: []string{"host:6379"}, host: "host", db: 3, target: "redis://host:6379/3"},
		{name: "url db query", env: map[string]string{"REDIS_URL": "redis://host?db=2"},
			addrs: []string{"host:6379"}, host: "host", db: 2},
		{name: "url trailing slash", env: map[string]string{"REDIS_URL": "redis://host:1/"},
			addrs: []string{"host:1"}, host: "host"},
		{name: "url ipv6", env: map[string]string{"REDIS_URL": "redis://[::1]:6390"},
			addrs: []string{"[::1]:6390"}, host: "::1", target: "[::1]:6390"},
		{name: "url ipv6 default port", env: map[string]string{"REDIS_URL": "redis://:pw@[2001:db8::1]"},
			addrs: []string{"[2001:db8::1]:6379"}, host: "2001:db8::1", password: "pw"},
		{name: "url percent-encoded password", env: map[string]string{"REDIS_URL": "redis://u:p%40ss%2Fw%3Ard%23@host"},
			addrs: []string{"host:6379"}, host: "host", user: "u", password: "p@ss/w:rd#"},
		{name: "url unencoded @ in password", env: map[string]string{"REDIS_URL": "redis://:p@ss@host"},
			addrs: []string{"host:6379"}, host: "host", password: "p@ss"},
		{name: "rediss", env: map[string]string{"REDIS_URL": "rediss://default:pw@cache.example.com:6380/1"},
			addrs: []string{"cache.example.com:6380"}, host: "cache.example.com", user: "default", password: "pw", db: 1, tls: true,
			target: "rediss://cache.example.com:6380/1"},
		{name: "scheme case", env: map[string]string{"REDIS_URL": "REDIS://host"},
			addrs: []string{"host:6379"}, host: "host"},
		{name: "rediss with CA", env: map[string]string{"REDIS_URL": "rediss://host", "REDIS_TLS_CA_FILE": caFile},
			addrs: []string{"host:6379"}, host: "host", tls: true},
		{name: "host only", env: map[string]string{"REDIS_HOST": "localhost"},
			addrs: []string{"localhost:6379"}, host: "localhost", source: SourceHost, target: "localhost:6379"},
		{name: "host pieces", env: map[string]string{"REDIS_HOST": "redis", "REDIS_PORT": "6380", "REDIS_USERNAME": "app", "REDIS_PASSWORD": "pw", "REDIS_DB": "4"},
			addrs: []string{"redis:6380"}, host: "redis", user: "app", password: "pw", db: 4, source: SourceHost},
		{name: "host tls", env: map[string]string{"REDIS_HOST": "127.0.0.1", "REDIS_TLS": "true", "REDIS_TLS_CA_FILE": caFile},
			addrs: []string{"127.0.0.1:6379"}, host: "127.0.0.1", tls: true, source: SourceHost, target: "rediss://127.0.0.1:6379"},
		{name: "host tls yes", env: map[string]string{"REDIS_HOST": "h", "REDIS_TLS": "YES"},
			addrs: []string{"h:6379"}, host: "h", tls: true, source: SourceHost},
		{name: "host ipv6 bare", env: map[string]string{"REDIS_HOST": "::1"},
			addrs: []string{"[::1]:6379"}, host: "::1", source: SourceHost},
		{name: "host ipv6 brackets", env: map[string]string{"REDIS_HOST": "[::1]", "REDIS_PORT": "7000"},
			addrs: []string{"[::1]:7000"}, host: "::1", source: SourceHost},
		{name: "host password with spaces kept", env: map[string]string{"REDIS_HOST": "h", "REDIS_PASSWORD": " pw "},
			addrs: []string{"h:6379"}, host: "h", password: " pw ", source: SourceHost},
		{name: "url wins over host", env: map[string]string{"REDIS_URL": "redis://a:1", "REDIS_HOST": "b", "REDIS_PORT": "notaport"},
			addrs: []string{"a:1"}, host: "a"},
		{name: "sentinel", env: map[string]string{"REDIS_SENTINEL_ADDRS": "s1:26379, s2", "REDIS_SENTINEL_MASTER": "mymaster", "REDIS_PASSWORD": "pw"},
			addrs: []string{"s1:26379", "s2:26379"}, password: "pw", mode: ModeSentinel, source: SourceSentinel,
			target: "sentinel master mymaster via s1:26379,s2:26379"},
		{name: "cluster", env: map[string]string{"REDIS_CLUSTER_ADDRS": "n1:7000,n2:7001,[::1]:7002"},
			addrs: []string{"n1:7000", "n2:7001", "[::1]:7002"}, mode: ModeCluster, source: SourceCluster,
			target: "cluster n1:7000,n2:7001,[::1]:7002"},
		{name: "cluster with url credentials", env: map[string]string{"REDIS_CLUSTER_ADDRS": "n1:7000", "REDIS_URL": "rediss://u:pw@ignored"},
			addrs: []string{"n1:7000"}, user: "u", password: "pw", tls: true, mode: ModeCluster, source: SourceCluster},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(env(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			r := c.Redis
			if tt.mode == "" {
				tt.mode = ModeSingle
			}
			if tt.source == "" {
				tt.source = SourceURL
			}
			if !reflect.DeepEqual(r.Addrs, tt.addrs) || r.Host != tt.host || r.Username != tt.user ||
				r.Password.Reveal() != tt.password || r.DB != tt.db || r.TLS != tt.tls || r.Mode != tt.mode || r.Source != tt.source {
				t.Errorf("got addrs=%v host=%q user=%q pwset=%v db=%d tls=%v mode=%s source=%s",
					r.Addrs, r.Host, r.Username, r.Password.IsSet(), r.DB, r.TLS, r.Mode, r.Source)
			}
			if tt.target != "" && c.RedisTarget() != tt.target {
				t.Errorf("target = %q, want %q", c.RedisTarget(), tt.target)
			}
			if tt.env["REDIS_TLS_CA_FILE"] != "" && r.RootCAs == nil {
				t.Error("RootCAs not loaded")
			}
			assertNoSecret(t, tt.password, c.RedisTarget(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c))
		})
	}
}

func TestURLWinsNotice(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"REDIS_URL": "redis://:topsecret@a", "REDIS_HOST": "b", "REDIS_PASSWORD": "other-secret"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Notices) != 1 || !strings.Contains(c.Notices[0], "REDIS_URL") || !strings.Contains(c.Notices[0], "REDIS_HOST, REDIS_PASSWORD") {
		t.Fatalf("notices = %q", c.Notices)
	}
	assertNoSecret(t, "topsecret", c.Notices...)
	assertNoSecret(t, "other-secret", c.Notices...)
}

func TestRejected(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	badCert := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(badCert, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const pw = "Hunter2Secret"
	tests := []struct {
		name    string
		env     map[string]string
		varName string
		want    string
	}{
		{"unknown scheme", map[string]string{"REDIS_URL": "http://:" + pw + "@host"}, "REDIS_URL", "unsupported scheme"},
		{"unix scheme", map[string]string{"REDIS_URL": "unix:///tmp/redis.sock"}, "REDIS_URL", "unsupported scheme"},
		{"no scheme", map[string]string{"REDIS_URL": "localhost:6379"}, "REDIS_URL", ""},
		{"no scheme with password", map[string]string{"REDIS_URL": ":" + pw + "@localhost"}, "REDIS_URL", ""},
		{"bad port", map[string]string{"REDIS_URL": "redis://:" + pw + "@host:abc"}, "REDIS_URL", "URL"},
		{"port zero", map[string]string{"REDIS_URL": "redis://:" + pw + "@host:0"}, "REDIS_URL", "port"},
		{"port too big", map[string]string{"REDIS_URL": "redis://:" + pw + "@host:70000"}, "REDIS_URL", "port"},
		{"empty port", map[string]string{"REDIS_URL": "redis://host:"}, "REDIS_URL", "empty port"},
		{"no host", map[string]string{"REDIS_URL": "redis://:" + pw + "@"}, "REDIS_URL", "no host"},
		{"bad db", map[string]string{"REDIS_URL": "redis://:" + pw + "@host/abc"}, "REDIS_URL", "database"},
		{"db too big", map[string]string{"REDIS_URL": "redis://host/16"}, "REDIS_URL", "database"},
		{"negative db", map[string]string{"REDIS_URL": "redis://host/-1"}, "REDIS_URL", "database"},
		{"slash in password", map[string]string{"REDIS_URL": "redis://:ab/" + pw + "@host"}, "REDIS_URL", ""},
		{"hash in password", map[string]string{"REDIS_URL": "redis://:ab#" + pw + "@host"}, "REDIS_URL", ""},
		{"question in password", map[string]string{"REDIS_URL": "redis://:ab?" + pw + "@host"}, "REDIS_URL", ""},
		{"bad escape in password", map[string]string{"REDIS_URL": "redis://:%zz" + pw + "@host"}, "REDIS_URL", "percent-encode"},
		{"unknown query", map[string]string{"REDIS_URL": "redis://host?password=" + pw}, "REDIS_URL", "query"},
		{"bad db query", map[string]string{"REDIS_URL": "redis://host?db=x"}, "REDIS_URL", "db"},
		{"bad host chars", map[string]string{"REDIS_URL": "redis://ho$t"}, "REDIS_URL", ""},
		{"ipv6 zone", map[string]string{"REDIS_URL": "redis://[fe80::1%25eth0]:6379"}, "REDIS_URL", "zone"},
		{"host with port", map[string]string{"REDIS_HOST": "localhost:6379"}, "REDIS_HOST", "REDIS_PORT"},
		{"host is url", map[string]string{"REDIS_HOST": "redis://:" + pw + "@h"}, "REDIS_HOST", "REDIS_URL"},
		{"host port bad", map[string]string{"REDIS_HOST": "h", "REDIS_PORT": "x"}, "REDIS_PORT", "port"},
		{"host port zero", map[string]string{"REDIS_HOST": "h", "REDIS_PORT": "0"}, "REDIS_PORT", "port"},
		{"host db bad", map[string]string{"REDIS_HOST": "h", "REDIS_DB": "16"}, "REDIS_DB", "between 0 and 15"},
		{"host db word", map[string]string{"REDIS_HOST": "h", "REDIS_DB": "one"}, "REDIS_DB", ""},
		{"tls bad bool", map[string]string{"REDIS_HOST": "h", "REDIS_TLS": "maybe"}, "REDIS_TLS", "true or false"},
		{"ca missing", map[string]string{"REDIS_URL": "rediss://h", "REDIS_TLS_CA_FILE": filepath.Join(dir, "nope.pem")}, "REDIS_TLS_CA_FILE", "does not exist"},
		{"ca is dir", map[string]string{"REDIS_URL": "rediss://h", "REDIS_TLS_CA_FILE": dir}, "REDIS_TLS_CA_FILE", "cannot read"},
		{"ca garbage", map[string]string{"REDIS_URL": "rediss://h", "REDIS_TLS_CA_FILE": garbage}, "REDIS_TLS_CA_FILE", "no PEM"},
		{"ca bad cert", map[string]string{"REDIS_URL": "rediss://h", "REDIS_TLS_CA_FILE": badCert}, "REDIS_TLS_CA_FILE", "does not parse"},
		{"sentinel no master", map[string]string{"REDIS_SENTINEL_ADDRS": "s:26379"}, "REDIS_SENTINEL_MASTER", "required"},
		{"master no sentinel", map[string]string{"REDIS_SENTINEL_MASTER": "m", "REDIS_HOST": "h"}, "REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_ADDRS"},
		{"sentinel bad port", map[string]string{"REDIS_SENTINEL_ADDRS": "s:x", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINEL_ADDRS", "port"},
		{"sentinel empty list", map[string]string{"REDIS_SENTINEL_ADDRS": " , ", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINEL_ADDRS", "host:port"},
		{"sentinel and cluster", map[string]string{"REDIS_SENTINEL_ADDRS": "s", "REDIS_SENTINEL_MASTER": "m", "REDIS_CLUSTER_ADDRS": "c"}, "REDIS_CLUSTER_ADDRS", "choose one"},
		{"cluster db", map[string]string{"REDIS_CLUSTER_ADDRS": "c:7000", "REDIS_DB": "1"}, "REDIS_DB", "database 0"},
		{"cluster bad host", map[string]string{"REDIS_CLUSTER_ADDRS": "c/x:7000"}, "REDIS_CLUSTER_ADDRS", "host"},
		{"http port", map[string]string{"PORT": "http"}, "PORT", "port"},
		{"http port big", map[string]string{"PORT": "65536"}, "PORT", "port"},
		{"log format", map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT", "text, json"},
		{"log level", map[string]string{"LOG_LEVEL": "verbose"}, "LOG_LEVEL", "debug, info"},
		{"provider", map[string]string{"MODERATION_PROVIDER": "magic"}, "MODERATION_PROVIDER", "rules, openai"},
		{"openai no key", map[string]string{"MODERATION_PROVIDER": "openai"}, "MODERATION_API_KEY", "required"},
		{"api url scheme", map[string]string{"MODERATION_API_URL": "ftp://u:" + pw + "@x"}, "MODERATION_API_URL", "http"},
		{"api url garbage", map[string]string{"MODERATION_API_URL": "http://u:" + pw + "@x:y"}, "MODERATION_API_URL", "valid URL"},
		{"ttl bad", map[string]string{"MODERATION_CACHE_TTL": "a day"}, "MODERATION_CACHE_TTL", "duration"},
		{"ttl zero", map[string]string{"MODERATION_CACHE_TTL": "0s"}, "MODERATION_CACHE_TTL", "positive"},
		{"ttl negative", map[string]string{"MODERATION_CACHE_TTL": "-5m"}, "MODERATION_CACHE_TTL", "positive"},
		{"max concurrent zero", map[string]string{"MODERATION_MAX_CONCURRENT": "0"}, "MODERATION_MAX_CONCURRENT", "between 1 and"},
		{"max concurrent garbage", map[string]string{"MODERATION_MAX_CONCURRENT": "lots"}, "MODERATION_MAX_CONCURRENT", "whole number"},
		{"database scheme", map[string]string{"DATABASE_URL": "mysql://u:" + pw + "@h/db"}, "DATABASE_URL", "postgres"},
		{"database garbage", map[string]string{"DATABASE_URL": "postgres://u:" + pw + "@h:port/db"}, "DATABASE_URL", "valid URL"},
		{"database port", map[string]string{"DATABASE_URL": "postgres://u:" + pw + "@h:99999/db"}, "DATABASE_URL", "port"},
		{"workers bool", map[string]string{"WORKERS": "sometimes"}, "WORKERS", "true or false"},
		{"concurrency zero", map[string]string{"WORKER_CONCURRENCY": "0"}, "WORKER_CONCURRENCY", "between 1 and 1000"},
		{"concurrency word", map[string]string{"WORKER_CONCURRENCY": "ten"}, "WORKER_CONCURRENCY", ""},
		{"prefix space", map[string]string{"QUEUE_PREFIX": "my prefix"}, "QUEUE_PREFIX", "white space"},
		{"chain rpc scheme", map[string]string{"CHAIN_RPC_ETHEREUM": "wss://eth.example/v3/" + pw}, "CHAIN_RPC_ETHEREUM", "http"},
		{"chain rpc garbage", map[string]string{"CHAIN_RPC_POLYGON": "https://u:" + pw + "@x:y/"}, "CHAIN_RPC_POLYGON", "valid URL"},
		{"chain rpc no host", map[string]string{"CHAIN_RPC_BASE": "https:///v2/" + pw}, "CHAIN_RPC_BASE", "no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(env(tt.env))
			if err == nil {
				t.Fatalf("Load accepted it: %+v", c)
			}
			if c != nil {
				t.Error("Load returned a config with an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			var ve *VarError
			if !errors.As(err, &ve) || ve.Var != tt.varName {
				t.Errorf("error %q does not name %s", err, tt.varName)
			}
			if !strings.HasPrefix(err.Error(), tt.varName+": ") {
				t.Errorf("error %q does not start with the variable name", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			assertNoSecret(t, pw, err.Error())
			if u := tt.env["REDIS_URL"]; strings.Contains(u, pw) && strings.Contains(err.Error(), u) {
				t.Errorf("error echoes the URL: %q", err)
			}
		})
	}
}

func TestAllErrorsReported(t *testing.T) {
	t.Parallel()
	_, err := Load(env(map[string]string{"PORT": "x", "LOG_LEVEL": "x", "WORKERS": "x"}))
	for _, v := range []string{"PORT", "LOG_LEVEL", "WORKERS"} {
		if err == nil || !strings.Contains(err.Error(), v+":") {
			t.Errorf("error %v does not report %s", err, v)
		}
	}
}

func TestServiceValues(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"PORT": "8080", "ADMIN_TOKEN": "a-very-long-admin-token", "QUEUE_PREFIX": "{zy}", "LOG_FORMAT": "JSON",
		"LOG_LEVEL": "warning", "MODERATION_PROVIDER": "openai", "MODERATION_API_KEY": "sk-123",
		"MODERATION_MODEL": "m1", "MODERATION_CACHE_TTL": "3600", "DATABASE_URL": "postgres://u:dbpass@db.local/app",
		"WORKERS": "off", "WORKER_CONCURRENCY": "4", "CHAIN_RPC_BASE": "https://base.example/v2/alchemykey123",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Port != 8080 || c.HTTP.Addr() != ":8080" || c.QueuePrefix != "{zy}" || c.Log.Format != "json" || c.Log.Level != slog.LevelWarn ||
		c.Moderation.Provider != "openai" || c.Moderation.APIURL.Reveal() != DefaultModerationAPIURL || c.Moderation.Model != "m1" ||
		c.Moderation.CacheTTL != time.Hour || c.Database.Addr != "db.local:5432" || c.Workers.Enabled || c.Workers.Concurrency != 4 {
		t.Errorf("config = %+v", c)
	}
	if len(c.Notices) != 0 {
		t.Errorf("notices = %q", c.Notices)
	}
	if len(c.ChainRPC) != 1 || c.ChainRPC["base"].Reveal() != "https://base.example/v2/alchemykey123" {
		t.Errorf("ChainRPC = %d endpoints", len(c.ChainRPC))
	}
	for _, s := range []string{"a-very-long-admin-token", "sk-123", "dbpass", "alchemykey123"} {
		assertNoSecret(t, s, fmt.Sprintf("%v", c), fmt.Sprintf("%+v", *c), fmt.Sprintf("%#v", *c))
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "config", c, "token", c.AdminToken)
		b, _ := json.Marshal(c)
		assertNoSecret(t, s, buf.String(), string(b))
	}
	short, err := Load(env(map[string]string{"ADMIN_TOKEN": "short"}))
	if err != nil || len(short.Notices) != 1 || strings.Contains(short.Notices[0], "short\"") {
		t.Errorf("short token: %v %q", err, short.Notices)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	if got := RedactURL("https://u:pw12345@h/x"); strings.Contains(got, "pw12345") {
		t.Errorf("RedactURL = %q", got)
	}
	if got := RedactURL("http://u:pw12345@h:x"); strings.Contains(got, "pw12345") {
		t.Errorf("RedactURL = %q", got)
	}
}

func assertNoSecret(t *testing.T, secret string, texts ...string) {
	t.Helper()
	if secret == "" {
		return
	}
	for _, s := range texts {
		if strings.Contains(s, secret) {
			t.Errorf("secret leaked into %q", s)
		}
	}
}
