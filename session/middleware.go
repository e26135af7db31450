package session

import (
	"context"
	"errors"
	"net/http"
)

// CookieOptions configure the session cookie.
type CookieOptions struct {
	// Name of the cookie. Defaults to "zyeute_session".
	Name string
	// Secure sets the Secure flag. Defaults to false (set true behind TLS).
	Secure bool
}

type ctxKey struct{}

// handle is what the middleware puts in the request context.
type handle struct {
	store *Store
	sess  *Session
	dirty bool
	del   bool
	renew bool
}

// Middleware loads the session named by the cookie (or starts one lazily)
// and saves it after the handler if it was changed with Set or Clear.
func (s *Store) Middleware(co CookieOptions, next http.Handler) http.Handler {
	if co.Name == "" {
		co.Name = "zyeute_session"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := &handle{store: s}
		if c, err := r.Cookie(co.Name); err == nil {
			if sess, err := s.Get(r.Context(), c.Value); err == nil {
				h.sess = sess
			} else if !errors.Is(err, ErrNotFound) {
				s.log.Warn("[Session] unreadable session, starting a new one", "error", err.Error())
			}
		}
		sw := &saveWriter{ResponseWriter: w, h: h, co: co, r: r}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, h)))
		sw.commit()
	})
}

// saveWriter saves the session and sets the cookie before the first byte
// of the response goes out.
type saveWriter struct {
	http.ResponseWriter
	h    *handle
	co   CookieOptions
	r    *http.Request
	done bool
}

func (w *saveWriter) commit() {
	if w.done {
		return
	}
	w.done = true
	h := w.h
	switch {
	case h.del && h.sess != nil:
		if err := h.store.Delete(w.r.Context(), h.sess.ID); err != nil {
			// Remembered and retried by the store; the cookie goes anyway.
			h.store.log.Warn("[Session] logout not confirmed in Redis", "error", err.Error())
		}
		http.SetCookie(w.ResponseWriter, &http.Cookie{Name: w.co.Name, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, Secure: w.co.Secure, SameSite: http.SameSiteLaxMode})
	case h.renew && h.sess != nil:
		old := h.sess.ID
		if err := h.store.Renew(w.r.Context(), h.sess); err != nil {
			if h.sess.ID == old {
				h.store.log.Error("[Session] renew failed", "error", err.Error())
				return
			}
			h.store.log.Warn("[Session] renewed, but the old id is not yet deleted in Redis", "error", err.Error())
		}
		http.SetCookie(w.ResponseWriter, &http.Cookie{Name: w.co.Name, Value: h.sess.ID, Path: "/",
			MaxAge: int(h.store.opts.TTL.Seconds()), HttpOnly: true, Secure: w.co.Secure, SameSite: http.SameSiteLaxMode})
	case h.dirty && h.sess != nil:
		if err := h.store.Save(w.r.Context(), h.sess); err != nil {
			h.store.log.Error("[Session] save failed", "error", err.Error())
			return
		}
		http.SetCookie(w.ResponseWriter, &http.Cookie{Name: w.co.Name, Value: h.sess.ID, Path: "/",
			MaxAge: int(h.store.opts.TTL.Seconds()), HttpOnly: true, Secure: w.co.Secure, SameSite: http.SameSiteLaxMode})
	}
}

func (w *saveWriter) WriteHeader(code int) { w.commit(); w.ResponseWriter.WriteHeader(code) }
func (w *saveWriter) Write(b []byte) (int, error) {
	w.commit()
	return w.ResponseWriter.Write(b)
}

// Get returns a value of the request's session ("" if none).
func Get(ctx context.Context, key string) string {
	h, _ := ctx.Value(ctxKey{}).(*handle)
	if h == nil || h.sess == nil {
		return ""
	}
	return h.sess.Values[key]
}

// Set sets a value in the request's session, creating the session if
// needed. It must be called before the response is written.
func Set(ctx context.Context, key, value string) error {
	h, _ := ctx.Value(ctxKey{}).(*handle)
	if h == nil {
		return errors.New("session: no session middleware on this request")
	}
	if h.sess == nil {
		sess, err := h.store.New()
		if err != nil {
			return err
		}
		h.sess = sess
	}
	h.sess.Values[key] = value
	h.dirty = true
	return nil
}

// Renew gives the request's session a new id when the response is
// written, keeping its values (and creating the session if needed): call it
// at login, with Set, so that a session id planted before login is
// worthless after it. It must be called before the response is written.
func Renew(ctx context.Context) error {
	h, _ := ctx.Value(ctxKey{}).(*handle)
	if h == nil {
		return errors.New("session: no session middleware on this request")
	}
	if h.sess == nil {
		sess, err := h.store.New()
		if err != nil {
			return err
		}
		h.sess = sess
	}
	h.renew = true
	return nil
}

// Clear deletes the request's session (logout).
func Clear(ctx context.Context) {
	if h, _ := ctx.Value(ctxKey{}).(*handle); h != nil {
		h.del = true
	}
}
