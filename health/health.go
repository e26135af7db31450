// Package health builds the /api/health document from cached dependency
// states, and serves /livez and /readyz with Kubernetes semantics.
//
// The document is answered with HTTP 200 while the service can serve, even
// with Redis down ("status": "degraded"); it reads the Redis probe's cached
// state and never waits on a dead Redis.
package health

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/zyeute/zyeute-redis/httpjson"
	"github.com/zyeute/zyeute-redis/redisconn"
)

// Overall statuses.
const (
	StatusHealthy  = "healthy"
	StatusDegraded = "degraded"
)

// Dependency statuses (database, redis).
const (
	DepConnected     = "connected"
	DepDisconnected  = "disconnected"
	DepNotConfigured = "not_configured"
	// DepEmbedded: the database is the embedded SQLite file and answers.
	DepEmbedded = "embedded"
)

// Database is the application store as the health check sees it;
// *store.Store implements it.
type Database interface {
	// Ping checks the database answers (a real round trip).
	Ping(ctx context.Context) error
	// Embedded reports the embedded SQLite file (no server).
	Embedded() bool
}

// AI statuses.
const (
	AIOK       = "ok"
	AIDegraded = "degraded"
)

// AIStatus is the moderation provider's state, as reported in "ai".
type AIStatus struct {
	// Provider is "rules" or "openai".
	Provider string `json:"provider"`
	// Status is "ok" or "degraded" (anything but "ok" degrades the
	// document).
	Status string `json:"status"`
	// Message explains a non-ok status.
	Message string `json:"message,omitempty"`
	// Cache is the moderation cache's state, e.g. "redis" or "bypass".
	Cache string `json:"cache,omitempty"`
}

// AIReporter reports the moderation provider's state. It must not block.
type AIReporter interface{ AIStatus() AIStatus }

// DefaultAI is reported when no AIReporter is set.
var DefaultAI = AIStatus{Provider: "rules", Status: AIOK}

// RedisSource is the cached Redis status; *redisconn.Conn implements it.
type RedisSource interface{ Status() redisconn.Status }

// Report is the /api/health document.
type Report struct {
	// Status is "healthy" when every configured dependency is up and Redis
	// is connected, "degraded" otherwise (the service still serves).
	Status   string      `json:"status"`
	Database string      `json:"database"`
	AI       AIStatus    `json:"ai"`
	Redis    RedisReport `json:"redis"`
}

// RedisReport is the "redis" member of the document.
type RedisReport struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	// Latency of the last PING in milliseconds; omitted when unknown.
	Latency *float64 `json:"latency,omitempty"`
}

// Options configure a Checker.
type Options struct {
	// Redis is the Redis state source. Defaults to none (not configured).
	Redis RedisSource
	// AI reports the moderation provider. Defaults to DefaultAI.
	AI AIReporter
	// Database is the application store, checked by a real ping:
	// "connected" (server) or "embedded" (SQLite) when it answers,
	// "disconnected" otherwise. When set, DatabaseAddr is ignored.
	Database Database
	// DatabaseAddr is the host:port of DATABASE_URL; empty means not
	// configured. The check is a TCP connect. Defaults to empty.
	DatabaseAddr string
	// DatabaseTimeout bounds the database check. Defaults to 1s.
	DatabaseTimeout time.Duration
	// DatabaseCacheFor is how long a database result is reused, so health
	// polling does not open a connection per request. Defaults to 5s.
	DatabaseCacheFor time.Duration
	// Dial opens the database check connection. Defaults to net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Checker assembles the health document.
type Checker struct {
	opts     Options
	draining atomic.Bool

	sf     singleflight.Group
	mu     sync.Mutex
	dbUp   bool
	dbAt   time.Time
	dbSeen bool
}

// New returns a Checker. opts may be nil.
func New(opts *Options) (*Checker, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.DatabaseTimeout < 0 || o.DatabaseCacheFor < 0 {
		return nil, errors.New("health: negative duration in Options")
	}
	if o.DatabaseTimeout == 0 {
		o.DatabaseTimeout = time.Second
	}
	if o.DatabaseCacheFor == 0 {
		o.DatabaseCacheFor = 5 * time.Second
	}
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
	return &Checker{opts: o}, nil
}

// SetDraining marks the service as shutting down: /readyz answers 503.
func (c *Checker) SetDraining() { c.draining.Store(true) }

// Draining reports whether SetDraining was called.
func (c *Checker) Draining() bool { return c.draining.Load() }

// Report builds the document. It never blocks on Redis; the database check
// is bounded by DatabaseTimeout and cached.
func (c *Checker) Report(ctx context.Context) Report {
	r := Report{Status: StatusHealthy, AI: DefaultAI}
	if c.opts.AI != nil {
		r.AI = c.opts.AI.AIStatus()
	}
	if r.AI.Status != AIOK {
		r.Status = StatusDegraded
	}

	r.Redis = RedisReport{Status: DepNotConfigured, Message: redisconn.MsgNotConfigured}
	if c.opts.Redis != nil {
		st := c.opts.Redis.Status()
		r.Redis.Status, r.Redis.Message = string(st.State), st.Message
		if st.State == redisconn.Connected && st.Latency > 0 {
			ms := math.Round(float64(st.Latency)/float64(time.Millisecond)*100) / 100
			r.Redis.Latency = &ms
		}
	}
	if r.Redis.Status != DepConnected {
		r.Status = StatusDegraded
	}

	r.Database = DepNotConfigured
	if c.opts.Database != nil {
		switch {
		case !c.databaseUp(ctx):
			r.Database = DepDisconnected
			r.Status = StatusDegraded
		case c.opts.Database.Embedded():
			r.Database = DepEmbedded
		default:
			r.Database = DepConnected
		}
	} else if c.opts.DatabaseAddr != "" {
		if c.databaseUp(ctx) {
			r.Database = DepConnected
		} else {
			r.Database = DepDisconnected
			r.Status = StatusDegraded
		}
	}
	return r
}

func (c *Checker) databaseUp(ctx context.Context) bool {
	c.mu.Lock()
	if c.dbSeen && time.Since(c.dbAt) < c.opts.DatabaseCacheFor {
		up := c.dbUp
		c.mu.Unlock()
		return up
	}
	c.mu.Unlock()
	ch := c.sf.DoChan("db", func() (any, error) {
		// Detached from the request: one slow client must not fail the
		// check for everyone sharing it.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.DatabaseTimeout)
		defer cancel()
		var up bool
		if c.opts.Database != nil {
			up = c.opts.Database.Ping(dctx) == nil
		} else {
			conn, err := c.opts.Dial(dctx, "tcp", c.opts.DatabaseAddr)
			up = err == nil
			if up {
				_ = conn.Close()
			}
		}
		c.mu.Lock()
		c.dbUp, c.dbAt, c.dbSeen = up, time.Now(), true
		c.mu.Unlock()
		return up, nil
	})
	select {
	case res := <-ch:
		return res.Val.(bool)
	case <-ctx.Done():
		return false
	}
}

// Handler serves GET /api/health: always 200 with the document while the
// process can answer.
func (c *Checker) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, c.Report(r.Context()))
	})
}

// Livez serves GET /livez: 200 "ok" while the process runs.
func (c *Checker) Livez() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
}

// Readyz serves GET /readyz: 200 "ok", or 503 "shutting down" once
// SetDraining was called. Redis being down does not make the service
// unready: it serves in degraded mode.
func (c *Checker) Readyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.Draining() {
			writeText(w, http.StatusServiceUnavailable, "shutting down")
			return
		}
		writeText(w, http.StatusOK, "ok")
	})
}

func writeText(w http.ResponseWriter, code int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(s + "\n"))
}
