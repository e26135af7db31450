package moderation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/zyeute/zyeute-redis/httpjson"
)

// ModerationRequest is the body of POST /api/moderation: exactly one field.
type ModerationRequest struct {
	Text        *string `json:"text,omitempty"`
	ImageURL    *string `json:"image_url,omitempty"`
	ImageBase64 *string `json:"image_base64,omitempty"`
}

// maxBodyBytes is the largest body read (about 14.5 MiB): a 10 MiB image in
// base64 (13.33 MiB) plus 8 % for how encoders may write it inside JSON
// (MIME line breaks every 76 characters written as "\r\n": +5.3 %; "/"
// escaped as "\/", as PHP does: +1.6 %) plus 64 KiB for the rest. Since the
// body is decoded as a stream, this bounds the bytes read, not the memory
// held; text and images are refused as soon as they exceed their own limits.
const maxBodyBytes = (MaxImageBytes+2)/3*4*108/100 + 64<<10

// apiError is an error with an HTTP status and a message safe to show.
type apiError struct {
	status int
	msg    string
	err    error // logged, not shown
	quiet  bool  // logged at debug level even when status >= 500
}

func (e *apiError) Error() string { return e.msg }

// handlerFunc is an HTTP handler that returns an error; serve writes it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (c *Cache) serve(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{status: http.StatusInternalServerError, msg: "internal error", err: err}
		}
		level := slog.LevelDebug
		if ae.status >= 500 && !ae.quiet {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{slog.String("path", r.URL.Path), slog.Int("status", ae.status), slog.String("error", ae.msg)}
		if ae.err != nil {
			attrs = append(attrs, slog.String("cause", ae.err.Error()))
		}
		c.log.LogAttrs(r.Context(), level, "Moderation request failed", attrs...)
		httpjson.Error(w, ae.status, ae.msg)
	})
}

// Handler serves POST /api/moderation. The body is one JSON object with
// exactly one of "text", "image_url" (http or https) or "image_base64"
// (standard or URL-safe base64, padded or not, optionally a data: URL); the
// answer is {"flagged","categories","scores","provider","model","cached"}
// (plus "unsupported" and "note" when the provider cannot judge the content).
//
// Errors are {"error": "...", "status": <code>} (httpjson.ErrorBody): 400 for invalid JSON,
// unknown or repeated fields, empty content, more than one field or a
// non-http(s) image_url; 413 for a body, text over 1 MiB or image over
// 10 MiB, answered as soon as the size is known (the rest of the body is not
// read); 415 for a non-JSON Content-Type; 503 with Retry-After when
// CacheConfig.MaxConcurrent requests are already in progress; 502 when the
// provider fails.
func (c *Cache) Handler() http.Handler {
	return c.serve(func(w http.ResponseWriter, r *http.Request) error {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			return &apiError{status: http.StatusMethodNotAllowed, msg: "method not allowed: use POST"}
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
				return &apiError{status: http.StatusUnsupportedMediaType, msg: "Content-Type must be application/json"}
			}
		}
		if r.ContentLength > maxBodyBytes {
			// Refused before reading a byte; the server closes the
			// connection instead of reading the body.
			return bodyError(&http.MaxBytesError{Limit: maxBodyBytes})
		}
		if c.slots != nil {
			select {
			case c.slots <- struct{}{}:
				defer func() { <-c.slots }()
			default:
				c.busy.Add(1)
				w.Header().Set("Retry-After", "1")
				return &apiError{status: http.StatusServiceUnavailable, quiet: true,
					msg: fmt.Sprintf("too many moderation requests in progress (limit %d): retry in a second", cap(c.slots))}
			}
		}
		content, err := readRequest(http.MaxBytesReader(w, r.Body, maxBodyBytes), r.ContentLength)
		if err != nil {
			return err
		}
		res, err := c.Moderate(r.Context(), content)
		if err != nil {
			return toAPIError(r.Context(), c.info.Provider, err)
		}
		httpjson.Write(w, http.StatusOK, res)
		return nil
	})
}

func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func bodyError(err error) error {
	if isTooLarge(err) {
		return &apiError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body too large: the limit is %d bytes", maxBodyBytes)}
	}
	if errors.Is(err, io.EOF) {
		return &apiError{status: http.StatusBadRequest, msg: "empty body: send a JSON object"}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &apiError{status: http.StatusBadRequest, msg: "invalid JSON"}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf("invalid JSON: field %q must be a string", te.Field)}
	}
	// The body parser reports unknown fields itself; anything else is
	// malformed JSON (the cause is logged, not shown).
	return &apiError{status: http.StatusBadRequest, msg: "invalid JSON", err: err}
}

// contentError maps the content errors of Moderate to their answer, or nil.
func contentError(err error) *apiError {
	switch {
	case errors.Is(err, ErrEmptyContent):
		return &apiError{status: http.StatusBadRequest, msg: "empty content: give one of text, image_url or image_base64"}
	case errors.Is(err, ErrAmbiguousContent):
		return &apiError{status: http.StatusBadRequest, msg: msgAmbiguous}
	case errors.Is(err, ErrInvalidImageURL):
		return &apiError{status: http.StatusBadRequest, msg: msgBadImageURL}
	case errors.Is(err, ErrContentTooLarge):
		return &apiError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("content too large: text is limited to %d bytes, images to %d bytes", MaxTextBytes, MaxImageBytes)}
	}
	return nil
}

func toAPIError(ctx context.Context, provider string, err error) error {
	if ae := contentError(err); ae != nil {
		return ae
	}
	switch {
	case ctx.Err() != nil:
		return &apiError{status: http.StatusServiceUnavailable, msg: "request cancelled", err: err}
	case errors.Is(err, ErrProvider):
		return &apiError{status: http.StatusBadGateway, msg: fmt.Sprintf("moderation provider %q failed; the content was not judged, try again later", provider), err: err}
	}
	return &apiError{status: http.StatusInternalServerError, msg: "internal error", err: err}
}

// StatsHandler serves GET /api/admin/moderation/stats: the Stats document
// (local and fleet counters and hit rates). Admin authentication is the
// router's job.
func (c *Cache) StatsHandler() http.Handler {
	return c.serve(func(w http.ResponseWriter, r *http.Request) error {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			return &apiError{status: http.StatusMethodNotAllowed, msg: "method not allowed: use GET"}
		}
		httpjson.Write(w, http.StatusOK, c.Stats(r.Context()))
		return nil
	})
}
