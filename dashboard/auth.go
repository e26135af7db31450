package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zyeute/zyeute-redis/session"
)

// Cookie names: over TLS (or behind a trusted proxy saying https) the
// cookie is Secure and carries the __Host- prefix, which makes the browser
// refuse it unless it is Secure, host-only and on Path=/.
const (
	CookieName       = "zyeute_admin"
	SecureCookieName = "__Host-zyeute_admin"
)

// CSRFHeader carries the session's CSRF token on every POST and DELETE
// made with the session cookie.
const CSRFHeader = "X-CSRF-Token"

// Session values.
const (
	valRole = "role"
	valCSRF = "csrf"
	valSeen = "seen" // last use, ms since the epoch
	roleAdm = "admin"
)

// maxLoginBody bounds the sign-in request.
const maxLoginBody = 4 << 10

func hashToken(t string) []byte {
	h := sha256.Sum256([]byte(t))
	return h[:]
}

func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// secure reports whether the request reached us over HTTPS.
func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || (s.o.TrustProxy && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https"))
}

func (s *Server) cookieName(r *http.Request) string {
	if s.secure(r) {
		return SecureCookieName
	}
	return CookieName
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, value string, clear bool) {
	c := &http.Cookie{Name: s.cookieName(r), Value: value, Path: "/", HttpOnly: true, Secure: s.secure(r),
		SameSite: http.SameSiteStrictMode}
	if clear {
		c.Value, c.MaxAge = "", -1
	}
	http.SetCookie(w, c)
}

// caller is who made an authenticated request.
type caller struct {
	sess   *session.Session // nil for a bearer token
	bearer bool
}

// handle adapts an authenticated handler: the request passes with a valid
// bearer token (scripts; no CSRF check, no cookie involved) or with a live
// admin session, and then, when mutating, only with the session's CSRF
// token in the X-CSRF-Token header and no foreign Origin.
func (s *Server) handle(h func(http.ResponseWriter, *http.Request, *caller) error, mutating bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticate(w, r, mutating)
		if err == nil {
			err = h(w, r, c)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

var errNoToken = &apiError{status: http.StatusServiceUnavailable, msg: "ADMIN_TOKEN not set", code: "token_unset"}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, mutating bool) (*caller, error) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		if s.token == nil {
			return nil, errNoToken
		}
		scheme, got, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(hashToken(strings.TrimSpace(got)), s.token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="zyeute admin"`)
			return nil, &apiError{status: http.StatusUnauthorized, msg: "missing or invalid admin token", code: "unauthenticated"}
		}
		return &caller{bearer: true}, nil
	}
	if mutating && !s.sameOrigin(r) {
		return nil, &apiError{status: http.StatusForbidden, msg: "cross-site request refused (Origin does not match this site)", code: "csrf"}
	}
	sess, err := s.liveSession(w, r, r.Header.Get(BackgroundHeader) == "")
	if err != nil {
		return nil, err
	}
	if mutating {
		want := sess.Values[valCSRF]
		got := r.Header.Get(CSRFHeader)
		if want == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return nil, &apiError{status: http.StatusForbidden, msg: "missing or invalid CSRF token (" + CSRFHeader + " header)", code: "csrf"}
		}
	}
	return &caller{sess: sess}, nil
}

// sameOrigin refuses a request whose Origin (sent by browsers on every
// POST and DELETE) names another site. No Origin: not a browser, or an old
// one; the CSRF token still decides.
func (s *Server) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	scheme := "http://"
	if s.secure(r) {
		scheme = "https://"
	}
	return o == scheme+r.Host
}

// BackgroundHeader marks the page's automatic requests (polling): they
// do not count as use of the session, so a tab left open still reaches
// its idle timeout.
const BackgroundHeader = "X-Background"

// liveSession returns the request's admin session, or 401; a session past
// its idle or absolute timeout is deleted (and the cookie cleared). When
// touch is set the request counts as use: the last-use time is written
// at most every idle/10 (at most once a minute).
func (s *Server) liveSession(w http.ResponseWriter, r *http.Request, touch bool) (*session.Session, error) {
	unauth := &apiError{status: http.StatusUnauthorized, msg: "not signed in", code: "unauthenticated"}
	ck, err := r.Cookie(s.cookieName(r))
	if err != nil || ck.Value == "" {
		return nil, unauth
	}
	sess, err := s.o.Sessions.Get(r.Context(), ck.Value)
	if err != nil {
		if !errors.Is(err, session.ErrNotFound) {
			s.log.Warn("[Dashboard] unreadable session", "error", err.Error())
		}
		s.setCookie(w, r, "", true)
		if why := s.expired.reason(ck.Value, s.o.Now()); why != "" {
			return nil, &apiError{status: http.StatusUnauthorized, msg: why, code: "expired"}
		}
		return nil, unauth
	}
	if sess.Values[valRole] != roleAdm {
		return nil, unauth
	}
	now := s.o.Now()
	seen, _ := strconv.ParseInt(sess.Values[valSeen], 10, 64)
	var why string
	switch {
	case now.Sub(sess.Created) >= s.o.AbsoluteTimeout:
		why = "session expired (signed in more than " + s.o.AbsoluteTimeout.String() + " ago): sign in again"
	case now.Sub(time.UnixMilli(seen)) >= s.o.IdleTimeout:
		why = "session expired (idle for more than " + s.o.IdleTimeout.String() + "): sign in again"
	}
	if why != "" {
		s.expired.add(sess.ID, why, now)
		if err := s.o.Sessions.Delete(r.Context(), sess.ID); err != nil {
			s.log.Warn("[Dashboard] expired session not yet deleted in Redis", "error", err.Error())
		}
		s.setCookie(w, r, "", true)
		return nil, &apiError{status: http.StatusUnauthorized, msg: why, code: "expired"}
	}
	if touch && now.Sub(time.UnixMilli(seen)) >= min(s.o.IdleTimeout/10, time.Minute) {
		sess.Values[valSeen] = strconv.FormatInt(now.UnixMilli(), 10)
		if err := s.o.Sessions.Save(r.Context(), sess); err != nil {
			s.log.Warn("[Dashboard] session last-use not saved", "error", err.Error())
		}
	}
	return sess, nil
}

// sessionInfo is what the page learns about its session. The CSRF token
// is handed to the page's script (it lives in memory only, never in
// storage) and sent back in the X-CSRF-Token header.
type sessionInfo struct {
	CSRF            string    `json:"csrf"`
	SignedInAt      time.Time `json:"signed_in_at"`
	ExpiresAt       time.Time `json:"expires_at"`
	IdleTimeoutSecs int64     `json:"idle_timeout_seconds"`
	Backend         string    `json:"backend"`
}

func (s *Server) info(sess *session.Session) sessionInfo {
	return sessionInfo{CSRF: sess.Values[valCSRF], SignedInAt: sess.Created.UTC(), ExpiresAt: sess.Created.Add(s.o.AbsoluteTimeout).UTC(),
		IdleTimeoutSecs: int64(s.o.IdleTimeout / time.Second), Backend: sess.Backend}
}

// getSession answers the current session (the page calls it on load).
func (s *Server) getSession(w http.ResponseWriter, _ *http.Request, c *caller) error {
	if c.bearer {
		return errorf(http.StatusBadRequest, "a bearer token has no session: the session endpoint is for the page")
	}
	writeJSON(w, http.StatusOK, s.info(c.sess))
	return nil
}

// login checks the admin token and starts a fresh session: a new random
// id (any session the browser presented is deleted first, so an id known
// before sign-in is worthless after it) and a new CSRF token.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	if s.token == nil {
		return errNoToken
	}
	// A JSON body forces a CORS preflight on a cross-site request, which
	// this server never grants: a plain cross-site form cannot sign in.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return errorf(http.StatusUnsupportedMediaType, "sign-in takes a JSON body {\"token\": \"...\"} with Content-Type: application/json")
	}
	if !s.sameOrigin(r) {
		return &apiError{status: http.StatusForbidden, msg: "cross-site request refused (Origin does not match this site)", code: "csrf"}
	}
	if !s.logins.allow(s.o.Now()) {
		return errorf(http.StatusTooManyRequests, "too many failed sign-ins: wait a minute and try again")
	}
	var body struct {
		Token string `json:"token"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxLoginBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return errorf(http.StatusBadRequest, "sign-in body must be {\"token\": \"...\"} (at most %d bytes)", maxLoginBody)
	}
	if subtle.ConstantTimeCompare(hashToken(strings.TrimSpace(body.Token)), s.token) != 1 {
		s.logins.fail(s.o.Now())
		s.log.Warn("[Dashboard] sign-in refused: wrong admin token", "remote", r.RemoteAddr)
		return &apiError{status: http.StatusUnauthorized, msg: "wrong admin token", code: "unauthenticated"}
	}
	if ck, err := r.Cookie(s.cookieName(r)); err == nil && ck.Value != "" {
		if err := s.o.Sessions.Delete(r.Context(), ck.Value); err != nil {
			s.log.Warn("[Dashboard] previous session not yet deleted in Redis", "error", err.Error())
		}
	}
	sess, err := s.o.Sessions.New()
	if err != nil {
		return err
	}
	csrf, err := randomToken()
	if err != nil {
		return err
	}
	now := s.o.Now()
	sess.Created = now
	sess.Values[valRole] = roleAdm
	sess.Values[valCSRF] = csrf
	sess.Values[valSeen] = strconv.FormatInt(now.UnixMilli(), 10)
	if err := s.o.Sessions.Save(r.Context(), sess); err != nil {
		return err
	}
	s.setCookie(w, r, sess.ID, false)
	s.log.Info("[Dashboard] admin signed in", "backend", sess.Backend, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, s.info(sess))
	return nil
}

// logout deletes the session everywhere (the store refuses it from then
// on even when Redis could not be told yet) and clears the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *caller) error {
	if c.bearer {
		return errorf(http.StatusBadRequest, "a bearer token has no session to sign out of")
	}
	s.setCookie(w, r, "", true)
	out := map[string]any{"signed_out": true}
	if err := s.o.Sessions.Delete(r.Context(), c.sess.ID); err != nil {
		if !errors.Is(err, session.ErrDeletePending) {
			return err
		}
		out["warning"] = "signed out here, but Redis could not be told yet: other instances may accept the session until Redis answers"
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// loginLimiter allows at most max failed sign-ins per period, across all
// clients (the admin token is one secret: guessing is what is limited).
type loginLimiter struct {
	max int
	per time.Duration

	mu    sync.Mutex
	start time.Time
	n     int
}

func (l *loginLimiter) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= l.per {
		l.start, l.n = now, 0
	}
	return l.n < l.max
}

func (l *loginLimiter) fail(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= l.per {
		l.start, l.n = now, 0
	}
	l.n++
}

// expiredSessions remembers, for a minute, the sessions deleted because
// they expired, so that the page's other requests already in flight with
// the same cookie are told "expired" too rather than "not signed in"
// (whichever answer the page reads first is what it shows). Bounded.
type expiredSessions struct {
	mu  sync.Mutex
	ids map[string]expiredEntry
}

type expiredEntry struct {
	why string
	at  time.Time
}

const (
	expiredMemory    = time.Minute
	maxExpiredMemory = 1024
)

func (e *expiredSessions) add(id, why string, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ids == nil || len(e.ids) >= maxExpiredMemory {
		old := e.ids
		e.ids = make(map[string]expiredEntry)
		for k, v := range old {
			if now.Sub(v.at) < expiredMemory && len(e.ids) < maxExpiredMemory/2 {
				e.ids[k] = v
			}
		}
	}
	e.ids[id] = expiredEntry{why: why, at: now}
}

// reason is why session id expired, if it did within the last minute.
func (e *expiredSessions) reason(id string, now time.Time) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v, ok := e.ids[id]; ok && now.Sub(v.at) < expiredMemory {
		return v.why
	}
	return ""
}
