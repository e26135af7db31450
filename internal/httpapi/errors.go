package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/zyeute/zyeute-redis/httpjson"
)

// Error is an error with an HTTP status and a message safe to show the
// client. Err, when set, is logged but never sent.
type Error struct {
	Status  int    // HTTP status; 500 when 0
	Message string // shown to the client
	Err     error  // logged only
	// RetryAfter, when positive, is sent as a Retry-After header (whole
	// seconds, at least 1): the request may succeed if sent again then.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with status and a formatted client message.
func Errorf(status int, format string, a ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, a...)}
}

// ErrorBody is the JSON body of every error response (httpjson's).
type ErrorBody = httpjson.ErrorBody

// HandlerFunc is an http handler that returns an error; wrap it with
// Handle (or put it in a Route, which does) to get one JSON error format.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h: a returned *Error is written as its status and message;
// any other error becomes 500 "internal error" and is logged.
func Handle(logger *slog.Logger, h HandlerFunc) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var apiErr *Error
		if !errors.As(err, &apiErr) {
			apiErr = &Error{Status: http.StatusInternalServerError, Message: "internal error", Err: err}
		}
		status := apiErr.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		level := slog.LevelDebug
		if status >= 500 {
			level = slog.LevelError
		}
		logger.Log(r.Context(), level, "http error", "method", r.Method, "path", r.URL.Path, "status", status, "error", err.Error())
		if apiErr.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int((apiErr.RetryAfter+time.Second-1)/time.Second))))
		}
		httpjson.Error(w, status, apiErr.Message)
	})
}
