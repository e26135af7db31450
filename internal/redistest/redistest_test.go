package redistest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestPlainKillRestart(t *testing.T) {
	t.Parallel()
	s := Start(t, nil)
	ctx := context.Background()
	c := s.Client(t)
	if err := c.Set(ctx, KeyPrefix(t)+":k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING succeeded on a killed server")
	}
	s.Restart()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.WaitUp(wctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after restart: %v", err)
	}
}

func TestPasswordAndACL(t *testing.T) {
	t.Parallel()
	s := Start(t, &Options{Password: "s3cret", ACL: []string{"app on >apppw ~* &* +@all"}})
	ctx := context.Background()
	if err := s.Client(t).Ping(ctx).Err(); err != nil {
		t.Fatalf("default user: %v", err)
	}
	nopw := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer nopw.Close()
	if err := nopw.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("no password: want NOAUTH, got %v", err)
	}
	app := redis.NewClient(&redis.Options{Addr: s.Addr(), Username: "app", Password: "apppw"})
	defer app.Close()
	if err := app.Ping(ctx).Err(); err != nil {
		t.Fatalf("ACL user: %v", err)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	s := Start(t, &Options{TLS: true})
	ctx := context.Background()
	if err := s.Client(t).Ping(ctx).Err(); err != nil {
		t.Fatalf("TLS ping: %v", err)
	}
	plain := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer plain.Close()
	if err := plain.Ping(ctx).Err(); err == nil {
		t.Fatal("plaintext PING to a TLS-only server succeeded")
	}
}

func TestKeyPrefixUnique(t *testing.T) {
	a, b := KeyPrefix(t), KeyPrefix(t)
	if a == b || strings.ContainsAny(a, ":{}") {
		t.Fatalf("bad prefixes %q %q", a, b)
	}
}
