// Package redisconn owns the one shared Redis client of the service and the
// truth about its state: not_configured, connected or disconnected.
//
// A background probe (PING with a timeout) measures latency and drives the
// state; while Redis is down it retries with capped exponential backoff and
// jitter, and logs each transition once, with the password redacted. Other
// packages read the cached Status (never blocking on Redis) and switch
// between their Redis and fallback paths.
package redisconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// State is the connection state.
type State string

// States.
const (
	NotConfigured State = "not_configured"
	Connected     State = "connected"
	Disconnected  State = "disconnected"
)

// Messages of the Status for the non-error states.
const (
	MsgHealthy = "Redis connection healthy"
	// MsgNotConfigured starts the not-configured message, followed by
	// Advice.NotConfigured in parentheses.
	MsgNotConfigured = "Redis not configured"
	MsgConnecting    = "connecting"
	MsgClosed        = "connection closed"
)

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("redisconn: closed")

// Status is a snapshot of the connection state.
type Status struct {
	State State
	// Latency is the round trip of the last successful PING; 0 when unknown
	// (not connected).
	Latency time.Duration
	// Message is human text: "Redis connection healthy", or Explain(err).
	Message string
	// Since is when State was entered.
	Since time.Time
	// Version is the server's redis_version, when known.
	Version string
}

// Options tune a Conn. The zero value (or nil) is usable.
type Options struct {
	// Logger receives the connection logs. nil means slog.Default(), as
	// everywhere in this module (pass a discarding logger for silence).
	Logger *slog.Logger
	// ProbeInterval is the wait between PINGs while connected. Defaults to 2s.
	ProbeInterval time.Duration
	// ProbeTimeout bounds one PING. Defaults to 1s.
	ProbeTimeout time.Duration
	// BackoffMin is the first wait after a failed probe. Defaults to 50ms.
	BackoffMin time.Duration
	// BackoffMax caps the wait between probes while down. Defaults to 20s.
	BackoffMax time.Duration
	// DialTimeout bounds TCP connect plus TLS handshake. Defaults to 5s.
	DialTimeout time.Duration
	// ClientName is sent with CLIENT SETNAME. Defaults to "zyeute".
	ClientName string
	// PoolSize is the go-redis pool size per node. Defaults to go-redis's
	// default (10 per CPU).
	PoolSize int
}

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.ProbeInterval == 0 {
		out.ProbeInterval = 2 * time.Second
	}
	if out.ProbeTimeout == 0 {
		out.ProbeTimeout = time.Second
	}
	if out.BackoffMin == 0 {
		out.BackoffMin = 50 * time.Millisecond
	}
	if out.BackoffMax == 0 {
		out.BackoffMax = 20 * time.Second
	}
	if out.DialTimeout == 0 {
		out.DialTimeout = 5 * time.Second
	}
	if out.ClientName == "" {
		out.ClientName = "zyeute"
	}
	return out
}

func (o Options) validate() error {
	switch {
	case o.ProbeInterval < 0, o.ProbeTimeout < 0, o.BackoffMin < 0, o.BackoffMax < 0, o.DialTimeout < 0, o.PoolSize < 0:
		return errors.New("redisconn: durations and sizes in Options must not be negative")
	case o.BackoffMax < o.BackoffMin:
		return errors.New("redisconn: BackoffMax must be at least BackoffMin")
	}
	return nil
}

// Conn is the shared Redis connection and its state monitor.
type Conn struct {
	cfg    Config
	advice Advice
	opts   Options
	log    *slog.Logger
	client redis.UniversalClient
	tls    *tls.Config

	kick chan struct{}

	mu      sync.Mutex
	status  Status
	lastMsg string // last logged error message, to log each error once
	dialErr error  // last dial failure, when it happened, see probe
	dialAt  time.Time
	subs    map[int]func(Status)
	nextSub int
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}

	// readOnlyRetries bounds the re-runs of a command refused with
	// READONLY (see hook); readOnlyLogged (under mu) is when that was last
	// logged.
	readOnlyRetries int
	readOnlyLogged  time.Time
}

// New builds the client (no I/O happens until Start or Check). When cfg is
// not configured (no address), the Conn reports NotConfigured and Client
// returns nil.
func New(cfg Config, opts *Options) (*Conn, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	c := &Conn{
		cfg:    cfg,
		advice: cfg.Advice.withDefaults(),
		opts:   o,
		log:    o.Logger,
		kick:   make(chan struct{}, 1),
		subs:   map[int]func(Status){},
	}
	if !cfg.Configured() {
		c.status = Status{State: NotConfigured, Message: c.notConfigured(), Since: time.Now()}
		return c, nil
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.Mode = cfg.mode()
	c.cfg.Mode = cfg.Mode
	if cfg.TLS != nil {
		c.tls = cfg.TLS.Clone()
		if c.tls.MinVersion == 0 {
			c.tls.MinVersion = tls.VersionTLS12
		}
	}
	uo := &redis.UniversalOptions{
		Addrs:                 cfg.Addrs,
		ClientName:            o.ClientName,
		DB:                    cfg.DB,
		Dialer:                c.dial,
		Username:              cfg.Username,
		Password:              cfg.Password.Reveal(),
		DialTimeout:           o.DialTimeout,
		DialerRetries:         1, // the probe owns retrying, with backoff
		ContextTimeoutEnabled: true,
		PoolSize:              o.PoolSize,
		MasterName:            cfg.SentinelMaster,
		IsClusterMode:         cfg.Mode == ModeCluster,
	}
	if cfg.Mode == ModeSentinel {
		// Sentinels usually share the data nodes' credentials in managed
		// setups; a separate sentinel password is not supported yet.
		uo.SentinelUsername, uo.SentinelPassword = cfg.Username, cfg.Password.Reveal()
	}
	c.client = redis.NewUniversalClient(uo)
	c.readOnlyRetries = 10
	if rc, ok := c.client.(*redis.Client); ok {
		// go-redis drops one stale connection per READONLY reply, and
		// makes MaxRetries+1 attempts per run.
		attempts := max(rc.Options().MaxRetries+1, 1)
		c.readOnlyRetries = rc.Options().PoolSize/attempts + 2
	}
	c.client.AddHook(hook{c: c})
	c.status = Status{State: Disconnected, Message: MsgConnecting, Since: time.Now()}
	return c, nil
}

// dial connects over TCP and, with TLS, verifies the server certificate
// against RootCAs (system roots when nil) for the host being dialled; the
// handshake honours ctx (go-redis's default dialer does not).
func (c *Conn) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: c.opts.DialTimeout, KeepAlive: 30 * time.Second}
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil || c.tls == nil {
		return raw, err
	}
	cfg := c.tls.Clone()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		cfg.ServerName = host
	}
	tc := tls.Client(raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		_ = raw.Close()
		return nil, &handshakeError{err: err}
	}
	return tc, nil
}

// handshakeError marks a failed TLS handshake, so that a timeout there is
// explained as a TLS problem (a plain server never answers a ClientHello).
type handshakeError struct{ err error }

func (e *handshakeError) Error() string { return "tls handshake: " + e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

// Client is the shared go-redis client, nil when not configured. Do not
// close it: Close does.
func (c *Conn) Client() redis.UniversalClient { return c.client }

// Configured reports whether Redis is configured.
func (c *Conn) Configured() bool { return c.client != nil }

// notConfigured is the status message while not configured.
func (c *Conn) notConfigured() string {
	return MsgNotConfigured + " (" + c.advice.NotConfigured + ")"
}

// Target describes the server, without the password.
func (c *Conn) Target() string { return c.cfg.Target() }

// State is the cached state.
func (c *Conn) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status.State
}

// Status is the cached status; it never blocks on Redis.
func (c *Conn) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Subscribe registers fn, called with the new Status on every state
// change, from the probe goroutine, in order. fn must return quickly and
// must not call Subscribe or its cancel. cancel unregisters it.
func (c *Conn) Subscribe(fn func(Status)) (cancel func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextSub
	c.nextSub++
	c.subs[id] = fn
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.subs, id)
	}
}

// Start logs the target, starts the background probe and returns. As for
// queue.Worker, ctx bounds the start-up only (its values are kept, its
// cancellation is not): the probe runs until Close, so that the status
// stays truthful while a service drains. The first probe runs at once.
// Calling Start twice is a no-op; after Close it returns ErrClosed. With
// Redis not configured it logs the degraded-mode line and returns nil.
func (c *Conn) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.started {
		return nil
	}
	c.started = true
	if c.client == nil {
		c.log.Warn("[Redis] Not configured (" + c.advice.NotConfigured + ") - Running in degraded mode")
		return nil
	}
	c.log.Info("[Redis] Initializing connection to "+c.cfg.Target(), "mode", string(c.cfg.Mode), "tls", c.tls != nil)
	ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.done = make(chan struct{})
	go c.loop(ctx)
	return nil
}

// Close stops the probe and closes the client. Safe to call twice. It
// waits for nothing slow (one PING at most, bounded by ProbeTimeout), so,
// unlike queue.Worker.Close, it takes no context and is an io.Closer.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	if c.client == nil {
		return nil
	}
	err := c.client.Close()
	c.mu.Lock()
	if c.status.State == Connected {
		c.status = Status{State: Disconnected, Message: MsgClosed, Since: time.Now(), Version: c.status.Version}
	}
	c.mu.Unlock()
	return err
}

// Check runs one probe now (PING, bounded by ProbeTimeout), updates the
// state like the background probe does, and returns the new Status. With
// Redis not configured it returns the NotConfigured status.
func (c *Conn) Check(ctx context.Context) Status {
	if c.client == nil {
		return c.Status()
	}
	return c.probe(ctx)
}

type probeKey struct{}

func (c *Conn) probe(ctx context.Context) Status {
	pctx, cancel := context.WithTimeout(context.WithValue(ctx, probeKey{}, true), c.opts.ProbeTimeout)
	defer cancel()
	start := time.Now()
	err := c.client.Ping(pctx).Err()
	latency := time.Since(start)
	if err != nil && ctx.Err() != nil {
		return c.Status() // shutting down: not a Redis problem
	}
	if err != nil && Code(err) == CodeTimeout {
		// go-redis dials in the background and the PING gives up at
		// ProbeTimeout; a dial that failed since (TLS handshake, refused)
		// is the better explanation.
		c.mu.Lock()
		if c.dialErr != nil && time.Since(c.dialAt) < c.opts.DialTimeout+c.opts.ProbeTimeout {
			err = c.dialErr
		}
		c.mu.Unlock()
	}
	version := ""
	if err == nil && c.Status().Version == "" || err == nil && c.State() != Connected {
		version = c.serverVersion(pctx)
	}
	return c.update(err, latency, version)
}

func (c *Conn) serverVersion(ctx context.Context) string {
	info, err := c.client.Info(ctx, "server").Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return ""
}

func (c *Conn) noteDial(err error) {
	c.mu.Lock()
	c.dialErr, c.dialAt = err, time.Now()
	c.mu.Unlock()
}

// scrub removes the password from text, as a last line of defence.
func (c *Conn) scrub(s string) string {
	if pw := c.cfg.Password.Reveal(); pw != "" {
		s = strings.ReplaceAll(s, pw, "xxxxx")
	}
	return s
}

func (c *Conn) update(err error, latency time.Duration, version string) Status {
	now := time.Now()
	c.mu.Lock()
	prev := c.status
	next := prev
	var logFn func()
	if err == nil {
		next.State, next.Latency, next.Message = Connected, latency, MsgHealthy
		if version != "" {
			next.Version = version
		}
		if prev.State != Connected {
			next.Since = now
			c.lastMsg = ""
			v := next.Version
			logFn = func() {
				c.log.Info("[Redis] ✅ Connection established", "target", c.cfg.Target(), "latency", latency.Round(time.Microsecond).String(), "version", v)
			}
		}
	} else {
		code, msg := classify(err, c.advice)
		msg = c.scrub(msg)
		next.State, next.Latency, next.Message = Disconnected, 0, msg
		if prev.State != Disconnected {
			next.Since = now
		}
		if msg != c.lastMsg {
			c.lastMsg = msg
			logFn = func() {
				c.log.Error("[Redis] ❌ Connection error: "+code, "target", c.cfg.Target(), "error", msg)
			}
		}
	}
	c.status = next
	var subs []func(Status)
	if next.State != prev.State {
		for _, fn := range c.subs {
			subs = append(subs, fn)
		}
	}
	c.mu.Unlock()
	if logFn != nil {
		logFn()
	}
	for _, fn := range subs {
		fn(next)
	}
	return next
}

func (c *Conn) loop(ctx context.Context) {
	defer close(c.done)
	attempt := 0
	for {
		st := c.probe(ctx)
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		if st.State == Connected {
			attempt = 0
			wait = c.opts.ProbeInterval
		} else {
			attempt++
			wait = Backoff(attempt, c.opts.BackoffMin, c.opts.BackoffMax)
			c.log.Warn(fmt.Sprintf("[Redis] Retry attempt %d, waiting %s", attempt, wait.Round(time.Millisecond)))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-c.kick:
			t.Stop()
		}
	}
}

// poke asks the probe to run now (a command failed with a connection
// error while we believed Redis was up).
func (c *Conn) poke() {
	if c.State() != Connected {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Backoff is the wait before retry attempt n (1-based): min doubled n-1
// times, plus up to 20% jitter, capped at max (at the cap, up to 20% less,
// so that many clients do not retry in step).
func Backoff(attempt int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	j := rand.Float64() * 0.2
	if d >= max {
		return time.Duration(float64(max) * (1 - j))
	}
	w := time.Duration(float64(d) * (1 + j))
	if w > max {
		w = max
	}
	return w
}
