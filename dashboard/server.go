package dashboard

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/httpjson"
	"github.com/zyeute/zyeute-redis/queue"
	"github.com/zyeute/zyeute-redis/session"
)

// Defaults of Options.
const (
	DefaultPrefix          = queue.DefaultPrefix
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
	DefaultMaxStreams      = 16
	DefaultStreamLifetime  = 10 * time.Minute
	// MaxPageSize bounds one page of the job list.
	MaxPageSize = 100
	// DefaultPageSize is the job list's page when the page asks for none.
	DefaultPageSize = 25
)

// APIPath is where the dashboard's JSON endpoints live.
const APIPath = Path + "/api"

// Options configure a Server. Hard dependencies are explicit: the package
// reads no environment variable and no global configuration.
type Options struct {
	// Redis is the queue Redis. Nil (Redis not configured) makes the queue
	// and Redis views answer 503; sign-in still works on the session
	// store's memory fallback. Defaults to nil.
	Redis redis.UniversalClient
	// Prefix is the BullMQ key prefix of the queues shown. Defaults to
	// "bull".
	Prefix string
	// Sessions stores the admin sessions. Required. Its TTL should be at
	// least AbsoluteTimeout (the dashboard enforces both timeouts itself).
	Sessions *session.Store
	// AdminToken is what an operator types to sign in, and what scripts
	// send as "Authorization: Bearer <token>". Empty: sign-in answers 503
	// "ADMIN_TOKEN not set". Never logged. Defaults to "".
	AdminToken string
	// TrustProxy believes X-Forwarded-Proto: https from the client (set it
	// only behind a reverse proxy that sets that header): the cookie is
	// then Secure and named with the __Host- prefix, as it is over TLS.
	// Defaults to false.
	TrustProxy bool
	// IdleTimeout ends a session not used for that long. Defaults to 30 min.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session that long after sign-in, used or not.
	// Defaults to 12 h.
	AbsoluteTimeout time.Duration
	// MaxStreams bounds the live (Server-Sent Events) connections open at
	// once; one more is answered 503. Defaults to 16.
	MaxStreams int
	// StreamLifetime ends a live connection after that long (the browser
	// reconnects on its own), so none lives forever. Defaults to 10 min.
	StreamLifetime time.Duration
	// Moderation, when set, serves the moderation cache counters the page
	// shows (GET APIPath+"/moderation"), behind the dashboard's sign-in.
	// Defaults to nil (the panel says it is not available).
	Moderation http.Handler
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// Route is one endpoint of the dashboard: a ServeMux pattern with its
// method, and its handler. Every API route does its own authentication
// (session cookie or bearer token); mount them without another guard.
type Route struct {
	Pattern string
	Handler http.Handler
}

// Server is the dashboard: the page, its sign-in and its JSON and live
// endpoints. Close it at shutdown to end the live connections.
type Server struct {
	o     Options
	log   *slog.Logger
	token []byte // sha256 of AdminToken; nil when not set

	streams chan struct{} // semaphore of live connections
	closed  chan struct{}
	once    sync.Once

	logins  loginLimiter
	queues  queueCache
	expired expiredSessions
}

// New checks the options and builds the Server.
func New(opts *Options) (*Server, error) {
	if opts == nil {
		return nil, errors.New("dashboard: Options are required (Sessions at least)")
	}
	o := *opts
	if o.Sessions == nil {
		return nil, errors.New("dashboard: Options.Sessions is required")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.AbsoluteTimeout == 0 {
		o.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if o.MaxStreams == 0 {
		o.MaxStreams = DefaultMaxStreams
	}
	if o.StreamLifetime == 0 {
		o.StreamLifetime = DefaultStreamLifetime
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.IdleTimeout < time.Second || o.AbsoluteTimeout < time.Second:
		return nil, fmt.Errorf("dashboard: IdleTimeout and AbsoluteTimeout must be at least 1s (got %s and %s)", o.IdleTimeout, o.AbsoluteTimeout)
	case o.MaxStreams < 0 || o.StreamLifetime < 0:
		return nil, errors.New("dashboard: MaxStreams and StreamLifetime must not be negative")
	case len(o.Prefix) > 512:
		return nil, errors.New("dashboard: Prefix must be at most 512 bytes")
	}
	s := &Server{o: o, log: o.Logger, streams: make(chan struct{}, o.MaxStreams), closed: make(chan struct{})}
	if o.AdminToken != "" {
		s.token = hashToken(o.AdminToken)
	}
	s.o.AdminToken = "" // kept only as its hash
	s.logins = loginLimiter{max: 10, per: time.Minute}
	s.queues = queueCache{ttl: 2 * time.Second}
	return s, nil
}

// Close ends the live connections (they return at once) and refuses new
// ones. Safe to call more than once.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closed) })
}

// Routes are the dashboard's endpoints: the page's files and the API.
func (s *Server) Routes() []Route {
	files := Handler()
	rs := make([]Route, 0, 32)
	for _, p := range Patterns {
		rs = append(rs, Route{p, files})
	}
	add := func(pattern string, h http.Handler) { rs = append(rs, Route{pattern, h}) }
	// Sign-in.
	add("GET "+APIPath+"/session", s.handle(s.getSession, false))
	add("POST "+APIPath+"/login", s.plain(s.login))
	add("POST "+APIPath+"/logout", s.handle(s.logout, true))
	// Queues and jobs.
	add("GET "+APIPath+"/queues", s.handle(s.listQueues, false))
	add("POST "+APIPath+"/queues/{queue}/{action}", s.handle(s.queueAction, true))
	add("GET "+APIPath+"/queues/{queue}/jobs", s.handle(s.listJobs, false))
	add("GET "+APIPath+"/queues/{queue}/jobs/{id}", s.handle(s.getJob, false))
	add("GET "+APIPath+"/queues/{queue}/jobs/{id}/children", s.handle(s.listPending, false))
	add("POST "+APIPath+"/queues/{queue}/jobs/{id}/{action}", s.handle(s.jobAction, true))
	add("DELETE "+APIPath+"/queues/{queue}/jobs/{id}", s.handle(s.removeJob, true))
	add("GET "+APIPath+"/queues/{queue}/metrics", s.handle(s.queueMetrics, false))
	add("GET "+APIPath+"/queues/{queue}/schedulers", s.handle(s.listSchedulers, false))
	add("GET "+APIPath+"/queues/{queue}/events", s.handle(s.events, false))
	// Panels.
	add("GET "+APIPath+"/redis", s.handle(s.redisPanel, false))
	add("GET "+APIPath+"/moderation", s.handle(s.moderation, false))
	return rs
}

// Mux is a ServeMux with every route, for tests and for programs that
// mount the dashboard on their own.
func (s *Server) Mux() *http.ServeMux {
	mux := http.NewServeMux()
	for _, r := range s.Routes() {
		mux.Handle(r.Pattern, r.Handler)
	}
	return mux
}

// apiError is an answer with a status and a message for the operator.
type apiError struct {
	status int
	msg    string
	code   string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// writeJSON answers v with status, as every route of the service does.
func writeJSON(w http.ResponseWriter, status int, v any) { httpjson.Write(w, status, v) }

// writeError answers err in the service's JSON error format
// (httpjson.ErrorBody, with its code where the page acts on it), 500 for errors that are not an *apiError (logged,
// with the message kept generic: it may name keys or addresses).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		s.log.Error("[Dashboard] request failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
		ae = &apiError{status: http.StatusInternalServerError, msg: "internal error: " + err.Error()}
	}
	httpjson.Write(w, ae.status, httpjson.ErrorBody{Error: ae.msg, Status: ae.status, Code: ae.code})
}

// plain adapts a handler that returns an error, with no authentication.
func (s *Server) plain(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}
