package config

import (
	"fmt"
	"log/slog"
)

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
