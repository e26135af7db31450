package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// adminURL is the PostgreSQL server the tests create their databases on
// (ZYEUTE_TEST_POSTGRES_URL overrides it).
func adminURL() string {
	if u := os.Getenv("ZYEUTE_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

const pgInstallHint = "run: scripts/ensure-test-deps.sh (or: apt-get install -y postgresql && service postgresql start; " +
	"the tests connect as user postgres with trust auth on 127.0.0.1:5432, or set ZYEUTE_TEST_POSTGRES_URL)"

// openPostgres creates a fresh database with a random name on the test
// server, opens a Store on it and drops it when the test ends. An
// unreachable server fails the test (never skips it).
func openPostgres(t testing.TB) *Store {
	t.Helper()
	ctx := context.Background()
	admin, err := sql.Open("pgx", adminURL())
	if err != nil {
		t.Fatalf("postgres: %v; %s", err, pgInstallHint)
	}
	t.Cleanup(func() { _ = admin.Close() })
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := admin.PingContext(pctx); err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s: %v\n%s", Redact(adminURL()), err, pgInstallHint)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "zyeute_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	u := adminURL()
	i := strings.LastIndex(u, "/")
	q := ""
	if j := strings.Index(u[i:], "?"); j >= 0 {
		q = u[i+j:]
	}
	s, err := Open(ctx, Config{URL: u[:i+1] + name + q})
	if err != nil {
		_, _ = admin.ExecContext(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() {
		_ = s.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("DROP DATABASE %s: %v", name, err)
		}
	})
	return s
}

func openSQLite(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{DataDir: filepath.Join(t.TempDir(), "data")})
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// backends runs f once per backend, each on a fresh database.
func backends(t *testing.T, f func(t *testing.T, s *Store)) {
	for _, b := range []struct {
		name string
		open func(testing.TB) *Store
	}{{SQLite, openSQLite}, {Postgres, openPostgres}} {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			if s.Backend() != b.name {
				t.Fatalf("Backend() = %q, want %q", s.Backend(), b.name)
			}
			f(t, s)
		})
	}
}
