package config

import (
	"fmt"
	"strings"
	"testing"
)

// marker surrounds and splits the fuzzed password so that any echo of a
// fragment of it is caught. None of our messages contains it.
const marker = "Qz8"

func FuzzRedisURL(f *testing.F) {
	seeds := []struct{ scheme, user, a, b, host, rest string }{
		{"redis", "", "", "", "localhost", ""},
		{"rediss", "app", "p", "w", "[::1]", ":6380/2"},
		{"redis", "", "a/b", "c", "host", ":6379"},
		{"redis", "u", "x#y", "?z", "h", "/0?db=1"},
		{"http", "", "%zz", "", "h", ":abc"},
		{"redis", "", "@@", ":", "", ":0"},
		{"redis", "u%40", "%2F", "%23", "10.0.0.1", ":65536/15"},
	}
	for _, s := range seeds {
		f.Add(s.scheme, s.user, s.a, s.b, s.host, s.rest)
	}
	f.Fuzz(func(t *testing.T, scheme, user, a, b, host, rest string) {
		password := marker + a + marker + b + marker
		raw := scheme + "://" + user + ":" + password + "@" + host + rest
		check := func(e map[string]string) {
			c, err := Load(env(e))
			if err != nil {
				if c != nil {
					t.Fatal("config and error both returned")
				}
				if strings.Contains(err.Error(), marker) {
					t.Fatalf("error echoes the password: %q", err)
				}
				return
			}
			for _, s := range append([]string{c.RedisTarget(), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c.Redis)}, c.Notices...) {
				if strings.Contains(s, marker) {
					t.Fatalf("output echoes the password: %q", s)
				}
			}
		}
		check(map[string]string{"REDIS_URL": raw})
		// The same pieces through the piece-by-piece variables.
		check(map[string]string{"REDIS_HOST": host, "REDIS_PORT": rest, "REDIS_USERNAME": user, "REDIS_PASSWORD": password, "REDIS_TLS": scheme, "REDIS_DB": a})
		// A raw value with the password anywhere.
		check(map[string]string{"REDIS_URL": scheme + user + password + host + rest})
		check(map[string]string{"DATABASE_URL": strings.Replace(raw, scheme, "postgres", 1), "MODERATION_API_URL": strings.Replace(raw, scheme, "https", 1)})
	})
}
