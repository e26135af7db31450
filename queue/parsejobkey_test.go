package queue

import "testing"

func TestParseJobKey(t *testing.T) {
	for _, c := range []struct {
		prefix, key, queue, id string
		ok                     bool
	}{
		{"bull", "bull:video:42", "video", "42", true},
		{"bull", "bull:{analytics}:a-b", "{analytics}", "a-b", true},
		{"my:app", "my:app:q:7", "q", "7", true},
		{"bull", "other:q:7", "", "", false},
		{"bull", "bull:q", "", "", false},
		{"bull", "bull::7", "", "", false},
		{"bull", "bull:q:", "", "", false},
		{"bull", "bullx:q:7", "", "", false},
	} {
		q, id, ok := ParseJobKey(c.prefix, c.key)
		if q != c.queue || id != c.id || ok != c.ok {
			t.Errorf("ParseJobKey(%q, %q) = %q, %q, %v; want %q, %q, %v", c.prefix, c.key, q, id, ok, c.queue, c.id, c.ok)
		}
	}
}
