// Package storetest opens fresh application stores for tests: an
// embedded SQLite file in a temporary directory, and a new database with a
// random name on the local PostgreSQL server (dropped when the test ends).
// An unreachable PostgreSQL fails the test with the command to fix it; it
// never skips.
package storetest

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

	"github.com/zyeute/zyeute-redis/internal/store"
)

// adminURL is the PostgreSQL server the tests create their databases on
// (ZYEUTE_TEST_POSTGRES_URL overrides it).
func AdminURL() string {
	if u := os.Getenv("ZYEUTE_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

const pgInstallHint = "run: scripts/ensure-test-deps.sh (or: apt-get install -y postgresql && service postgresql start; " +
	"the tests connect as user postgres with trust auth on 127.0.0.1:5432, or set ZYEUTE_TEST_POSTGRES_URL)"

// PostgresURL creates a fresh database with a random name on the test
// server and returns its URL; the database is dropped when the test ends.
// An unreachable server fails the test (never skips it).
func PostgresURL(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	admin, err := sql.Open("pgx", AdminURL())
	if err != nil {
		t.Fatalf("postgres: %v; %s", err, pgInstallHint)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := admin.PingContext(pctx); err != nil {
		_ = admin.Close()
		t.Fatalf("PostgreSQL is not reachable at %s: %v\n%s", store.Redact(AdminURL()), err, pgInstallHint)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "zyeute_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close()
		t.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	// Registered first, so it runs after the cleanups that close stores.
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("DROP DATABASE %s: %v", name, err)
		}
	})
	u := AdminURL()
	i := strings.LastIndex(u, "/")
	q := ""
	if j := strings.Index(u[i:], "?"); j >= 0 {
		q = u[i+j:]
	}
	return u[:i+1] + name + q
}

// OpenPostgres opens a Store on a fresh database (PostgresURL), closed and
// dropped when the test ends.
func OpenPostgres(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Config{URL: PostgresURL(t)})
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func OpenSQLite(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Config{DataDir: filepath.Join(t.TempDir(), "data")})
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Backends runs f once per backend (SQLite, PostgreSQL) as subtests, each
// on a fresh database.
func Backends(t *testing.T, f func(t *testing.T, s *store.Store)) {
	for _, b := range []struct {
		name string
		open func(testing.TB) *store.Store
	}{{store.SQLite, OpenSQLite}, {store.Postgres, OpenPostgres}} {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			if s.Backend() != b.name {
				t.Fatalf("Backend() = %q, want %q", s.Backend(), b.name)
			}
			f(t, s)
		})
	}
}
