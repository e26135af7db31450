package redisconn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/zyeute/zyeute-redis/secret"
)

// Mode is the Redis topology.
type Mode string

// Topologies.
const (
	ModeSingle   Mode = "single"
	ModeSentinel Mode = "sentinel"
	ModeCluster  Mode = "cluster"
)

// Config says which Redis to connect to and how. The zero value means
// "not configured": the Conn then reports NotConfigured and has no client.
// Config knows nothing of environment variables: an application builds
// one from its own settings.
type Config struct {
	// Mode is single (the default when empty), sentinel or cluster.
	Mode Mode
	// Addrs are host:port addresses: the server (single), the sentinels
	// (sentinel) or the seed nodes (cluster). Empty: not configured.
	Addrs []string
	// Username and Password authenticate (AUTH / ACL). With sentinels,
	// the sentinels are asked with the same credentials.
	Username string
	Password secret.String
	// DB is the database number (single and sentinel only).
	DB int
	// TLS, when not nil, turns TLS on. The Conn clones it and sets
	// ServerName to the host of each address it dials; nil RootCAs means
	// the system roots.
	TLS *tls.Config
	// SentinelMaster is the monitored master's name (sentinel mode).
	SentinelMaster string
	// Advice names the application's settings in the advice of error
	// messages (Explain). The zero value names this Config's fields.
	Advice Advice
}

// Advice is how error messages tell the user what to change, in the
// words of the application that built the Config (for example environment
// variables). Each empty field has a default naming Config's own fields.
type Advice struct {
	// Password: where to give the password. Default "Config.Password".
	Password string
	// CA: where to give the CA that signed the server's certificate.
	// Default "Config.TLS.RootCAs".
	CA string
	// TLSOn and TLSOff: how to turn TLS on or off. Defaults "Config.TLS"
	// and "Config.TLS = nil".
	TLSOn, TLSOff string
	// NotConfigured: why no Redis is configured, shown in parentheses in
	// the not-configured status and log line. Default "no address".
	NotConfigured string
}

func (a Advice) withDefaults() Advice {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&a.Password, "Config.Password")
	def(&a.CA, "Config.TLS.RootCAs")
	def(&a.TLSOn, "Config.TLS")
	def(&a.TLSOff, "Config.TLS = nil")
	def(&a.NotConfigured, "no address")
	return a
}

// Configured reports whether an address is set.
func (c Config) Configured() bool { return len(c.Addrs) > 0 }

func (c Config) mode() Mode {
	if c.Mode == "" {
		return ModeSingle
	}
	return c.Mode
}

func (c Config) validate() error {
	switch c.mode() {
	case ModeSingle, ModeCluster:
	case ModeSentinel:
		if c.SentinelMaster == "" {
			return errors.New("redisconn: sentinel mode needs a master name (Config.SentinelMaster)")
		}
	default:
		return fmt.Errorf("redisconn: mode %q not supported (single, sentinel or cluster)", c.Mode)
	}
	if c.DB < 0 {
		return errors.New("redisconn: Config.DB must not be negative")
	}
	return nil
}

// Target describes the server(s) for logs, the password never included:
// "host:6379", "rediss://host:6379/2", "sentinel master m via a,b",
// "cluster a,b", or "not configured".
func (c Config) Target() string {
	switch {
	case !c.Configured():
		return "not configured"
	case c.mode() == ModeSentinel:
		return "sentinel master " + c.SentinelMaster + " via " + strings.Join(c.Addrs, ",")
	case c.mode() == ModeCluster:
		return "cluster " + strings.Join(c.Addrs, ",")
	}
	addr := c.Addrs[0]
	if c.TLS == nil && c.DB == 0 {
		return addr
	}
	scheme := "redis://"
	if c.TLS != nil {
		scheme = "rediss://"
	}
	s := scheme + addr
	if c.DB != 0 {
		s += "/" + strconv.Itoa(c.DB)
	}
	return s
}
