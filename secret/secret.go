// Package secret holds String, the one type for a credential (a Redis
// password, an API key, a bearer token) anywhere in this module.
//
// It is a root package of its own, with no dependency beyond the standard
// library, so that every library (redisconn, moderation) and the
// application's configuration can share it without importing each other.
package secret

import (
	"fmt"
	"log/slog"
)

// Redacted is what a non-empty String prints as, everywhere.
const Redacted = "[REDACTED]"

// String is a string that never prints itself: every fmt verb (%v %s %d
// %q %x %+v %#v…), String, GoString, slog (LogValue), JSON and text
// marshalling all show Redacted, or "" when the secret is empty. Use
// Reveal to get the value, only where it is handed to the system that
// needs it. Do not use one as a map key: encoding/json writes string-kind
// keys as they are.
type String string

// Reveal returns the secret value.
func (s String) Reveal() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s String) IsSet() bool { return s != "" }

func (s String) display() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// String implements fmt.Stringer.
func (s String) String() string { return s.display() }

// GoString implements fmt.GoStringer (%#v).
func (s String) GoString() string { return fmt.Sprintf("secret.String(%q)", s.display()) }

// Format implements fmt.Formatter so that every verb redacts: %q quotes
// the redacted text, %#v is GoString, any other verb (%d and %x included)
// writes the redacted text.
func (s String) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q':
		fmt.Fprintf(f, "%q", s.display())
	case verb == 'v' && f.Flag('#'):
		_, _ = f.Write([]byte(s.GoString()))
	default:
		_, _ = f.Write([]byte(s.display()))
	}
}

// LogValue implements slog.LogValuer.
func (s String) LogValue() slog.Value { return slog.StringValue(s.display()) }

// MarshalJSON implements json.Marshaler.
func (s String) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf("%q", s.display())), nil }

// MarshalText implements encoding.TextMarshaler (map keys, YAML, TOML…).
func (s String) MarshalText() ([]byte, error) { return []byte(s.display()), nil }
