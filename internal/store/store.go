// Package store is Zyeuté's application database: the rows the jobs
// produce (engagement rollups, memories, privacy requests, the audit log)
// and the users and videos they are about.
//
// One schema and one code path serve two backends through database/sql:
// PostgreSQL (DATABASE_URL=postgres://…, driver pgx v5 in its stdlib mode)
// and, when DATABASE_URL is unset, an embedded SQLite file (pure-Go driver
// modernc.org/sqlite, no cgo, no service to install). The migrations under
// migrations/ are embedded and applied by goose when the store opens.
//
// Every write is idempotent: keys (event ids, user+day, request ids) make
// a job that runs twice leave the same rows.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Backend names.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// DefaultFile is the SQLite file name inside Config.DataDir.
const DefaultFile = "zyeute.db"

// Config says which database to open.
type Config struct {
	// URL is a postgres:// or postgresql:// URL (DATABASE_URL). Empty
	// means the embedded SQLite file.
	URL string
	// DataDir holds the SQLite file (DATA_DIR, default ./data); created
	// when missing. Ignored with URL.
	DataDir string
	// Path overrides the SQLite file path (DataDir/zyeute.db by default).
	Path string
}

// Store is an open application database.
type Store struct {
	db      *sql.DB
	backend string
	where   string // file path or redacted host, for logs
}

// Open connects, applies the pending migrations and returns the store.
// The error says which database and what failed, without the password.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s := &Store{}
	var err error
	if cfg.URL != "" {
		s.backend = Postgres
		s.where = Redact(cfg.URL)
		s.db, err = sql.Open("pgx", cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("store: postgres %s: %w", s.where, err)
		}
		s.db.SetMaxOpenConns(16)
		s.db.SetMaxIdleConns(4)
		s.db.SetConnMaxIdleTime(5 * time.Minute)
	} else {
		s.backend = SQLite
		path := cfg.Path
		if path == "" {
			dir := cfg.DataDir
			if dir == "" {
				dir = "data"
			}
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("store: data directory: %w", err)
			}
			path = filepath.Join(dir, DefaultFile)
		}
		s.where = path
		// WAL lets readers run beside the writer; busy_timeout waits for
		// the write lock instead of failing; _txlock=immediate takes it at
		// BEGIN so two writers never deadlock upgrading a read lock.
		dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		s.db, err = sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: sqlite %s: %w", path, err)
		}
		s.db.SetMaxOpenConns(8)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.db.PingContext(pctx); err != nil {
		_ = s.db.Close()
		return nil, fmt.Errorf("store: cannot reach %s database %s: %w", s.backend, s.where, err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	dialect := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if s.backend == Postgres {
		dialect = goose.DialectPostgres
		// serve and worker processes may start together: one migrates,
		// the others wait on the advisory lock.
		l, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(l))
	}
	p, err := goose.NewProvider(dialect, s.db, sub, opts...)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: applying migrations to %s database %s: %w", s.backend, s.where, err)
	}
	return nil
}

// Backend is Postgres or SQLite.
func (s *Store) Backend() string { return s.backend }

// Where is the SQLite path or the PostgreSQL URL without its password.
func (s *Store) Where() string { return s.where }

// Embedded reports whether the store is the embedded SQLite file.
func (s *Store) Embedded() bool { return s.backend == SQLite }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// DB is the underlying handle (tests, doctor).
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// q rewrites '?' placeholders to $1, $2… for PostgreSQL. Queries in this
// package never hold a literal '?'.
func (s *Store) q(query string) string {
	if s.backend != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tx runs fn in a transaction, committed when fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Redact returns a database URL without its password and query.
func Redact(raw string) string {
	at := strings.LastIndex(raw, "@")
	scheme := strings.Index(raw, "://")
	if at < 0 || scheme < 0 || at < scheme {
		if i := strings.IndexAny(raw, "?#"); i >= 0 {
			return raw[:i]
		}
		return raw
	}
	rest := raw[at+1:]
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	return raw[:scheme+3] + "…@" + rest
}

// ErrNotFound: no such row.
var ErrNotFound = errors.New("store: not found")

// Day formats t's UTC date as YYYY-MM-DD.
func Day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }
