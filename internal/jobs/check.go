package jobs

import (
	"net/url"
	"strings"
	"time"
)

// maxIDLen bounds the ids carried in payloads (video, user, request…).
const maxIDLen = 128

// checkID accepts 1..128 characters of [A-Za-z0-9_.:-] (required) or an
// empty string (optional).
// CheckID checks an identifier outside a payload (a path segment, a query
// parameter) with the payloads' rules: required, at most 128 characters,
// letters, digits and _ . : -. The error is a *ValidationError.
func CheckID(field, v string) error { return checkID(field, v, true) }

func checkID(field, v string, required bool) error {
	if v == "" {
		if required {
			return fieldError(field, "is required")
		}
		return nil
	}
	if len(v) > maxIDLen {
		return fieldError(field, "is longer than %d characters", maxIDLen)
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.:-", r)) {
			return fieldError(field, "may only contain letters, digits and _ . : -")
		}
	}
	return nil
}

// checkMediaURL accepts an https://, s3:// or gs:// reference of at most
// 2048 bytes with a host (bucket), and no credentials in it.
func checkMediaURL(field, v string) error {
	if v == "" {
		return fieldError(field, "is required")
	}
	if len(v) > 2048 {
		return fieldError(field, "is longer than 2048 characters")
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return fieldError(field, "is not a URL with a host (https://, s3:// or gs://)")
	}
	switch u.Scheme {
	case "https", "s3", "gs":
	default:
		return fieldError(field, "must start with https://, s3:// or gs://")
	}
	if u.User != nil {
		return fieldError(field, "must not carry credentials (use a signed URL or the storage service's own access)")
	}
	return nil
}

func oneOf(field, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fieldError(field, "must be one of %s (got %q)", strings.Join(allowed, ", "), truncate(v, 40))
}

// Bounds of the dates and numbers in payloads.
const (
	// MaxFutureSkew is how far ahead of the clock a date in a payload may
	// be (clock skew, time zones).
	MaxFutureSkew = 24 * time.Hour
	// MaxSafeInteger bounds counts and block numbers: 2^53 − 1, the
	// largest integer a JavaScript consumer of the job (Node BullMQ, Bull
	// Board) reads exactly.
	MaxSafeInteger = 1<<53 - 1
)

// MinPayloadTime is the earliest date a payload may carry.
var MinPayloadTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// checkTime accepts a time between MinPayloadTime and now + MaxFutureSkew.
func checkTime(field string, t, now time.Time) error {
	if t.Before(MinPayloadTime) || t.After(now.Add(MaxFutureSkew)) {
		return fieldError(field, "must be between %s and 24 hours from now (got %s)",
			MinPayloadTime.Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkCount accepts 0..MaxSafeInteger.
func checkCount(field string, v int64) error {
	if v < 0 || v > MaxSafeInteger {
		return fieldError(field, "must be between 0 and %d", int64(MaxSafeInteger))
	}
	return nil
}
