// Package httpapi assembles the service's HTTP handler and server: a local
// ServeMux with method patterns, the health endpoints, admin routes guarded
// by ADMIN_TOKEN (constant-time), one JSON error format, panic recovery and
// request logging. Other packages add endpoints through Deps.Routes
// without editing this package.
package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/zyeute/zyeute-redis/health"
	"github.com/zyeute/zyeute-redis/internal/config"
)

// Route is one endpoint to mount.
type Route struct {
	// Pattern is a ServeMux pattern with a method, e.g.
	// "POST /api/moderation" or "GET /api/admin/queue/stats".
	Pattern string
	// Handler serves it. Use Handle to get the JSON error format.
	Handler http.Handler
	// Admin requires "Authorization: Bearer <ADMIN_TOKEN>"; with no token
	// configured the route answers 503 "ADMIN_TOKEN not set".
	Admin bool
}

// Deps are what the handler is built from.
type Deps struct {
	// Logger for request and error logs. Defaults to discard.
	Logger *slog.Logger
	// Health serves /api/health, /livez and /readyz. Required.
	Health *health.Checker
	// AdminToken guards Admin routes.
	AdminToken config.Secret
	// Routes are extra endpoints, mounted in order.
	Routes []Route
}

// NewHandler builds the root handler. It fails on a missing Health, a
// route without a method in its pattern, or conflicting patterns.
func NewHandler(d Deps) (http.Handler, error) {
	if d.Health == nil {
		return nil, errors.New("httpapi: Deps.Health is required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	routes := append([]Route{
		{Pattern: "GET /api/health", Handler: d.Health.Handler()},
		{Pattern: "GET /livez", Handler: d.Health.Livez()},
		{Pattern: "GET /readyz", Handler: d.Health.Readyz()},
	}, d.Routes...)
	for _, rt := range routes {
		if rt.Handler == nil {
			return nil, fmt.Errorf("httpapi: route %q has no handler", rt.Pattern)
		}
		if method, _, ok := strings.Cut(rt.Pattern, " "); !ok || method == "" || strings.ContainsAny(method, "/{") {
			return nil, fmt.Errorf("httpapi: route %q must start with a method, e.g. \"GET /path\"", rt.Pattern)
		}
		h := rt.Handler
		if rt.Admin {
			h = requireAdmin(d.AdminToken, h)
		}
		if err := register(mux, rt.Pattern, h); err != nil {
			return nil, err
		}
	}
	return recoverer(d.Logger, logRequests(d.Logger, mux)), nil
}

// register turns ServeMux's panic on a conflicting pattern into an error.
func register(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("httpapi: route %q: %v", pattern, r)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// requireAdmin checks "Authorization: Bearer <token>" in constant time
// (both sides hashed first, so the length does not leak either).
func requireAdmin(token config.Secret, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token.Reveal()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !token.IsSet() {
			WriteError(w, http.StatusServiceUnavailable, "ADMIN_TOKEN not set")
			return
		}
		auth := r.Header.Get("Authorization")
		scheme, got, ok := strings.Cut(auth, " ")
		gotSum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(gotSum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="zyeute admin"`)
			WriteError(w, http.StatusUnauthorized, "missing or invalid admin token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests logs each request at debug level (health probes are
// frequent) with method, path, status and duration; never headers.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		logger.Debug("http request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start).String())
	})
}

// recoverer turns a handler panic into a 500 JSON error and a log line
// with the stack.
func recoverer(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.Error("http handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				WriteError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// ServerOptions are the http.Server limits. Zero fields take defaults.
type ServerOptions struct {
	// ReadHeaderTimeout. Defaults to 5s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout (whole request). Defaults to 30s.
	ReadTimeout time.Duration
	// WriteTimeout (whole response). Defaults to 60s.
	WriteTimeout time.Duration
	// IdleTimeout for keep-alive connections. Defaults to 120s.
	IdleTimeout time.Duration
	// MaxHeaderBytes. Defaults to 64 KiB.
	MaxHeaderBytes int
	// Logger receives the server's own errors (TLS, hijack…). Defaults to
	// discard.
	Logger *slog.Logger
}

// NewServer returns an http.Server for addr with explicit timeouts.
func NewServer(addr string, h http.Handler, opts *ServerOptions) *http.Server {
	var o ServerOptions
	if opts != nil {
		o = *opts
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 5 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 30 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 60 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 120 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
}
