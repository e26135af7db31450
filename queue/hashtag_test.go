package queue

import "testing"

func TestHashTag(t *testing.T) {
	for _, tc := range []struct {
		key, tag string
		ok       bool
	}{
		{"{bull}:q:", "bull", true},
		{"bull:{q}:", "q", true},
		{"bull{}:q:", "", false},    // empty tag: the whole key is hashed
		{"{bull:q:", "", false},     // never closed
		{"bull:q}:{x}:", "x", true}, // first '{' then the first '}' after it
		{"bull:q:", "", false},
		{"{a}{b}:", "a", true},
	} {
		tag, ok := hashTag(tc.key)
		if tag != tc.tag || ok != tc.ok {
			t.Errorf("hashTag(%q) = %q, %v; want %q, %v", tc.key, tag, ok, tc.tag, tc.ok)
		}
	}
}
