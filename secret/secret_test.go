package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const value = "pa55word-42"

func TestEveryVerbRedacts(t *testing.T) {
	t.Parallel()
	s := String(value)
	type holder struct{ P String }
	for _, verb := range []string{"%v", "%s", "%d", "%q", "%x", "%X", "%+v", "%#v", "%10s", "%-8d", "%t", "%e"} {
		for name, arg := range map[string]any{"value": s, "pointer": &s, "struct": holder{s}, "slice": []String{s}} {
			got := fmt.Sprintf(verb, arg)
			if strings.Contains(got, value) || strings.Contains(got, fmt.Sprintf("%x", value)) {
				t.Errorf("%s of a %s leaks: %q", verb, name, got)
			}
			if name == "value" && !strings.Contains(got, "REDACTED") && !strings.Contains(got, fmt.Sprintf("%x", Redacted)) {
				t.Errorf("%s = %q, want it to say REDACTED", verb, got)
			}
		}
	}
	if got := fmt.Sprintf("%#v", s); got != `secret.String("[REDACTED]")` {
		t.Errorf("%%#v = %s", got)
	}
	if got := fmt.Sprint(s) + s.String(); got != Redacted+Redacted {
		t.Errorf("Sprint+String = %q", got)
	}
}

func TestJSONAndTextRedact(t *testing.T) {
	t.Parallel()
	s := String(value)
	b, err := json.Marshal(map[string]String{"p": s})
	if err != nil || string(b) != `{"p":"[REDACTED]"}` {
		t.Errorf("json = %s, %v", b, err)
	}
	b, err = json.Marshal(struct{ P *String }{&s})
	if err != nil || string(b) != `{"P":"[REDACTED]"}` {
		t.Errorf("json pointer = %s, %v", b, err)
	}
	if b, err := s.MarshalText(); err != nil || string(b) != Redacted {
		t.Errorf("text = %s, %v", b, err)
	}
}

func TestSlogRedacts(t *testing.T) {
	t.Parallel()
	s := String(value)
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("login", "password", s, slog.Any("nested", struct{ P String }{s}), slog.Group("g", "p", &s))
	}
	if strings.Contains(buf.String(), value) || strings.Count(buf.String(), Redacted) < 4 {
		t.Errorf("slog output = %s", buf.String())
	}
}

func TestEmptyAndReveal(t *testing.T) {
	t.Parallel()
	if String(value).Reveal() != value || !String(value).IsSet() {
		t.Error("Reveal or IsSet broken")
	}
	var empty String
	if empty.IsSet() || fmt.Sprintf("%v|%d|%q", empty, empty, empty) != `||""` {
		t.Errorf("empty = %v|%d|%q", empty, empty, empty)
	}
}
