package jobs

import (
	"net/url"
	"strings"
)

// maxIDLen bounds the ids carried in payloads (video, user, request…).
const maxIDLen = 128

// checkID accepts 1..128 characters of [A-Za-z0-9_.:-] (required) or an
// empty string (optional).
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
