package config

import (
	"fmt"
	"log/slog"
)

// redacted is what a non-empty Secret prints as, everywhere.
const redacted = "[REDACTED]"

// Secret is a string that never prints itself: String, GoString, Format,
// LogValue, MarshalJSON and MarshalText all redact it. Use Reveal to get the
// value, only where it is handed to the system that needs it.
type Secret string

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s != "" }

func (s Secret) display() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String implements fmt.Stringer.
func (s Secret) String() string { return s.display() }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.display()) }

// Format implements fmt.Formatter so that every verb (%s, %v, %q, %x, %d…)
// redacts.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", s.display())
	case 'v':
		if f.Flag('#') {
			_, _ = f.Write([]byte(s.GoString()))
			return
		}
		_, _ = f.Write([]byte(s.display()))
	default:
		_, _ = f.Write([]byte(s.display()))
	}
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.display()) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf("%q", s.display())), nil }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.display()), nil }

// SecretURL is a URL that may carry credentials. It prints with its
// password replaced by "xxxxx" (url.URL.Redacted), or as a placeholder when
// it does not parse; Reveal returns it whole.
type SecretURL string

// Reveal returns the URL with its credentials.
func (u SecretURL) Reveal() string { return string(u) }

// IsSet reports whether the URL is non-empty.
func (u SecretURL) IsSet() bool { return u != "" }

func (u SecretURL) display() string {
	if u == "" {
		return ""
	}
	return RedactURL(string(u))
}

// String implements fmt.Stringer.
func (u SecretURL) String() string { return u.display() }

// GoString implements fmt.GoStringer.
func (u SecretURL) GoString() string { return fmt.Sprintf("config.SecretURL(%q)", u.display()) }

// Format implements fmt.Formatter: every verb prints the redacted form.
func (u SecretURL) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q':
		fmt.Fprintf(f, "%q", u.display())
	case verb == 'v' && f.Flag('#'):
		_, _ = f.Write([]byte(u.GoString()))
	default:
		_, _ = f.Write([]byte(u.display()))
	}
}

// LogValue implements slog.LogValuer.
func (u SecretURL) LogValue() slog.Value { return slog.StringValue(u.display()) }

// MarshalJSON implements json.Marshaler.
func (u SecretURL) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf("%q", u.display())), nil }

// MarshalText implements encoding.TextMarshaler.
func (u SecretURL) MarshalText() ([]byte, error) { return []byte(u.display()), nil }
