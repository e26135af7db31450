// Package httpjson writes the JSON answers of every HTTP route of this
// module (the service's API, moderation, health) in one way, and their
// errors in one shape:
//
//	{"error": "<message safe to show>", "status": <HTTP status>}
//
// plus, where a client acts on the kind of error rather than its text (the
// admin dashboard: "csrf", "expired"), a machine-readable "code".
//
// It is a root package with no dependency beyond the standard library so
// that the libraries (moderation, health) and the application's router
// (internal/httpapi) share it. Messages are built by the caller, once, at
// its HTTP boundary, from typed errors; httpjson never looks inside an
// error.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
	// Code is a stable machine-readable kind of error, when the route
	// defines one; omitted otherwise.
	Code string `json:"code,omitempty"`
}

// Write writes v as JSON with status. Every answer is dynamic and typed:
// Content-Type application/json (utf-8), Cache-Control no-store and
// X-Content-Type-Options nosniff.
func Write(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Error writes ErrorBody{msg, status} with status.
func Error(w http.ResponseWriter, status int, msg string) {
	Write(w, status, ErrorBody{Error: msg, Status: status})
}
