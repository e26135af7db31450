// Package httpapi assembles the service's HTTP handler and server: a local
// ServeMux with method patterns, the health endpoints, admin routes guarded
// by ADMIN_TOKEN and service routes (the job API) guarded by
// JOBS_API_TOKEN or loopback (constant-time), one JSON error format for
// every answer (unknown routes and 405s included), the strict JSON body
// decoder (DecodeJSON), panic recovery and request logging. Other packages
// add endpoints through Deps.Routes without editing this package.
package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/zyeute/zyeute-redis/health"
	"github.com/zyeute/zyeute-redis/httpjson"
	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/secret"
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
	// Service requires a service credential per Deps.ServiceAuth (the job
	// API): "Authorization: Bearer <JOBS_API_TOKEN or ADMIN_TOKEN>", or, in
	// mode "loopback", a direct loopback client. Ignored when Admin is set.
	Service bool
}

// Deps are what the handler is built from.
type Deps struct {
	// Logger for request and error logs. nil means slog.Default(), as
	// everywhere in this module.
	Logger *slog.Logger
	// AccessLog logs every request at info level ("http request": method,
	// path without its query, status, duration); false logs them at debug
	// level. Headers, query strings and bodies (tokens) are never logged.
	AccessLog bool
	// Health serves /api/health, /livez and /readyz. Required.
	Health *health.Checker
	// AdminToken guards Admin routes; it is accepted on Service routes too.
	AdminToken secret.String
	// ServiceToken (JOBS_API_TOKEN) guards Service routes.
	ServiceToken secret.String
	// ServiceAuth is how Service routes authenticate (JOBS_API_AUTH):
	// "loopback" (a token, or a direct loopback client), "token" (a token
	// always) or "none" (no check). Defaults to "loopback".
	ServiceAuth string
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
		d.Logger = slog.Default()
	}
	switch d.ServiceAuth {
	case "":
		d.ServiceAuth = config.JobsAuthLoopback
	case config.JobsAuthLoopback, config.JobsAuthToken, config.JobsAuthNone:
	default:
		return nil, fmt.Errorf("httpapi: Deps.ServiceAuth %q is not one of loopback, token, none", d.ServiceAuth)
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
		} else if rt.Service {
			h = requireService(d.ServiceAuth, d.ServiceToken, d.AdminToken, h)
		}
		if err := register(mux, rt.Pattern, h); err != nil {
			return nil, err
		}
	}
	level := slog.LevelDebug
	if d.AccessLog {
		level = slog.LevelInfo
	}
	return recoverer(d.Logger, logRequests(d.Logger, level, jsonMuxErrors(mux))), nil
}

// jsonMuxErrors answers the mux's own errors (no route: 404; a route for
// another method: 405 with Allow) in the API's JSON error format instead
// of ServeMux's plain text. Matched routes and redirects pass through.
func jsonMuxErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// Let ServeMux decide (and set Allow), keep only its status.
		rec := &headerOnly{h: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status < 400 {
			mux.ServeHTTP(w, r)
			return
		}
		msg := strings.ToLower(http.StatusText(rec.status))
		switch rec.status {
		case http.StatusNotFound:
			msg = "no such route: " + r.Method + " " + truncate(r.URL.Path, 200)
		case http.StatusMethodNotAllowed:
			allow := rec.h.Get("Allow")
			w.Header().Set("Allow", allow)
			msg = "method " + truncate(r.Method, 20) + " not allowed (allowed: " + allow + ")"
		}
		httpjson.Error(w, rec.status, msg)
	})
}

// headerOnly records a status and headers and drops the body.
type headerOnly struct {
	h      http.Header
	status int
}

func (h *headerOnly) Header() http.Header { return h.h }
func (h *headerOnly) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}
func (h *headerOnly) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
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
func requireAdmin(token secret.String, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token.Reveal()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !token.IsSet() {
			httpjson.Error(w, http.StatusServiceUnavailable, "ADMIN_TOKEN not set")
			return
		}
		auth := r.Header.Get("Authorization")
		scheme, got, ok := strings.Cut(auth, " ")
		gotSum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(gotSum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="zyeute admin"`)
			httpjson.Error(w, http.StatusUnauthorized, "missing or invalid admin token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireService guards the job API. A request passes when it carries
// "Authorization: Bearer <token>" equal (constant time) to the service
// token or the admin token; in mode "loopback" also when it comes straight
// from a loopback address with no Authorization header and no proxy
// header (Forwarded, X-Forwarded-For, X-Real-IP: a reverse proxy on the
// same host would otherwise make every client look local). A wrong token
// is refused even from loopback. Mode "none" checks nothing.
func requireService(mode string, service, admin secret.String, next http.Handler) http.Handler {
	if mode == config.JobsAuthNone {
		return next
	}
	var wants [][32]byte
	for _, s := range []secret.String{service, admin} {
		if s.IsSet() {
			wants = append(wants, sha256.Sum256([]byte(s.Reveal())))
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if auth == "" && mode == config.JobsAuthLoopback && directLoopback(r) {
			next.ServeHTTP(w, r)
			return
		}
		scheme, got, ok := strings.Cut(auth, " ")
		gotSum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		match := 0
		for _, want := range wants {
			match |= subtle.ConstantTimeCompare(gotSum[:], want[:])
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") || match != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="zyeute jobs"`)
			switch {
			case len(wants) == 0 && mode == config.JobsAuthLoopback:
				httpjson.Error(w, http.StatusForbidden, "the job API answers loopback clients only: JOBS_API_TOKEN not set")
			case len(wants) == 0:
				httpjson.Error(w, http.StatusServiceUnavailable, "JOBS_API_TOKEN not set")
			default:
				httpjson.Error(w, http.StatusUnauthorized, "missing or invalid job API token (Authorization: Bearer <JOBS_API_TOKEN>)")
			}
			return
		}
		next.ServeHTTP(w, r)
	})
}

// directLoopback reports a client connected from a loopback address with
// no sign of a proxy in between.
func directLoopback(r *http.Request) bool {
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-Ip"} {
		if _, ok := r.Header[h]; ok {
			return false
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
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

// logRequests logs each request at level (debug by default: health probes
// are frequent; info with Deps.AccessLog) with method, path without its
// query, status and duration; never headers, query strings or bodies.
func logRequests(logger *slog.Logger, level slog.Level, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		logger.LogAttrs(r.Context(), level, "http request", slog.String("method", truncate(r.Method, 20)),
			slog.String("path", truncate(r.URL.Path, 200)), slog.Int("status", status), slog.String("duration", time.Since(start).String()))
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
				httpjson.Error(w, http.StatusInternalServerError, "internal error")
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
	// Logger receives the server's own errors (TLS, hijack…). nil means
	// slog.Default().
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
		o.Logger = slog.Default()
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
