package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Inspection is what Inspect found about a database, for `zyeute doctor`.
type Inspection struct {
	Backend string // Postgres or SQLite
	Where   string // redacted URL or file path
	// Version is the server's version (PostgreSQL) or the SQLite library's.
	Version string
	// Latency is the round trip of one ping after connecting.
	Latency time.Duration
	// Exists is false when the SQLite file is not created yet (it is at
	// the first start); nothing else is then filled.
	Exists bool
	// Writable: the SQLite file and its directory can be written.
	Writable bool
	// Applied is the highest migration version applied (0: none); Latest
	// is the highest this binary carries.
	Applied, Latest int64
}

// LatestMigration is the highest migration version embedded.
func LatestMigration() int64 {
	ents, _ := fs.ReadDir(migrations, "migrations")
	var max int64
	for _, e := range ents {
		n, _, _ := strings.Cut(e.Name(), "_")
		if v, err := strconv.ParseInt(n, 10, 64); err == nil && v > max {
			max = v
		}
	}
	return max
}

// SQLitePath is the file Open uses for cfg without a URL.
func SQLitePath(cfg Config) string {
	if cfg.Path != "" {
		return cfg.Path
	}
	dir := cfg.DataDir
	if dir == "" {
		dir = "data"
	}
	return filepath.Join(dir, DefaultFile)
}

// Inspect connects to the database cfg names without changing anything
// (no migration, no file created) and reports its state. A connection
// error is returned as the driver gave it (wrapped), for the caller to
// classify; it never contains the password.
func Inspect(ctx context.Context, cfg Config) (*Inspection, error) {
	in := &Inspection{Latest: LatestMigration()}
	var db *sql.DB
	var err error
	if cfg.URL != "" {
		in.Backend, in.Where = Postgres, Redact(cfg.URL)
		if db, err = sql.Open("pgx", cfg.URL); err != nil {
			return in, err
		}
	} else {
		in.Backend = SQLite
		path := SQLitePath(cfg)
		in.Where = path
		st, err := os.Stat(path)
		if errors.Is(err, os.ErrNotExist) {
			in.Writable = dirWritable(filepath.Dir(path))
			return in, nil
		}
		if err != nil {
			return in, err
		}
		if st.IsDir() {
			return in, fmt.Errorf("%s is a directory", path)
		}
		in.Exists = true
		f, ferr := os.OpenFile(path, os.O_WRONLY, 0)
		if ferr == nil {
			_ = f.Close()
		}
		in.Writable = ferr == nil && dirWritable(filepath.Dir(path))
		if db, err = sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(3000)"); err != nil {
			return in, err
		}
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return in, err
	}
	defer conn.Close()
	t0 := time.Now()
	if err := conn.PingContext(ctx); err != nil {
		return in, err
	}
	in.Latency = time.Since(t0)
	q := "SELECT sqlite_version()"
	if in.Backend == Postgres {
		q = "SHOW server_version"
	}
	if err := conn.QueryRowContext(ctx, q).Scan(&in.Version); err != nil {
		return in, err
	}
	var v sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT MAX(version_id) FROM goose_db_version WHERE is_applied").Scan(&v); err == nil {
		in.Applied = v.Int64
	}
	// An error here is a missing table: no migration applied yet.
	return in, nil
}

// dirWritable: a file can be created in dir, or in its nearest existing
// ancestor when dir does not exist yet (Open creates it).
func dirWritable(dir string) bool {
	for i := 0; i < 64; i++ {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	f, err := os.CreateTemp(dir, ".zyeute-doctor-*")
	if err != nil {
		return false
	}
	name := f.Name()
	_ = f.Close()
	_ = os.Remove(name)
	return true
}
