package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"
)

// CheckDatabase is the application database check. It runs last and does
// not depend on Redis: it runs even when the Redis checks stopped early.
const CheckDatabase = "database"

// Database is the application database for the database check
// (Target.Database). Doctor does not open databases itself (no driver in
// this package): Inspect, supplied by the caller, connects without
// changing anything and reports. Its error is classified here: a driver
// error with a SQLSTATE (SQLState() string, as pgx's *pgconn.PgError),
// a refused connection, a timeout, a DNS failure.
type Database struct {
	// Backend is "postgres" (DATABASE_URL set) or "sqlite" (embedded).
	Backend string
	// Where is the redacted URL or the SQLite file path.
	Where string
	// Password is the database password, only so that the report is
	// scrubbed of it as a last line of defence; never printed.
	Password string
	// Inspect connects and reports the database's state.
	Inspect func(ctx context.Context) (DatabaseData, error)
}

// DatabaseData is the Data of the database check.
type DatabaseData struct {
	Backend   string  `json:"backend"`
	Where     string  `json:"where"`
	Version   string  `json:"version,omitempty"`
	LatencyMS float64 `json:"latency_ms,omitempty"`
	// Exists is false when the SQLite file is not created yet.
	Exists   bool `json:"exists"`
	Writable bool `json:"writable"`
	// Applied is the highest migration version applied, Latest the
	// highest the binary carries (the service applies the rest at start).
	Applied int64 `json:"migrations_applied"`
	Latest  int64 `json:"migrations_latest"`
	// Latency is the ping round trip (LatencyMS in the report).
	Latency time.Duration `json:"-"`
}

func (d *diag) checkDatabase(ctx context.Context, c *Check) string {
	db := d.t.Database
	if db == nil || db.Inspect == nil {
		add(c, "database_not_checked", StatusSkip, "skipped: no application database given to doctor", "")
		return ""
	}
	data, err := db.Inspect(ctx)
	if data.Backend == "" {
		data.Backend, data.Where = db.Backend, db.Where
	}
	data.LatencyMS = ms(data.Latency)
	c.Data = data
	if err != nil {
		code, msg, fix := classifyDBErr(data, err, d.o.CheckTimeout)
		add(c, code, StatusFail, msg, fix)
		return ""
	}
	if data.Backend == "sqlite" {
		switch {
		case !data.Exists && data.Writable:
			add(c, "sqlite_new", StatusOK, fmt.Sprintf("embedded SQLite database %s does not exist yet: created and migrated at the first start", data.Where), "")
		case !data.Writable:
			add(c, "sqlite_readonly", StatusFail, fmt.Sprintf("embedded SQLite database %s (or its directory) is not writable", data.Where),
				"give the service's user write access to the file and its directory (SQLite writes a -wal and -shm beside it), or set DATA_DIR to a writable directory")
		default:
			add(c, "sqlite", StatusOK, fmt.Sprintf("embedded SQLite %s at %s, writable", data.Version, data.Where), "")
		}
	} else {
		add(c, "connected", StatusOK, fmt.Sprintf("PostgreSQL %s at %s answered in %.2f ms", data.Version, data.Where, data.LatencyMS), "")
	}
	if data.Exists || data.Backend != "sqlite" {
		switch {
		case data.Applied >= data.Latest:
			add(c, "migrations", StatusOK, fmt.Sprintf("schema up to date (migration %d)", data.Applied), "")
		case data.Applied == 0:
			add(c, "migrations_pending", StatusWarn, fmt.Sprintf("no migration applied yet (this version carries %d)", data.Latest),
				"start `zyeute serve` or `zyeute worker` once: they apply the migrations at start")
		default:
			add(c, "migrations_pending", StatusWarn, fmt.Sprintf("schema at migration %d, this version carries %d", data.Applied, data.Latest),
				"start `zyeute serve` or `zyeute worker` once: they apply the pending migrations at start")
		}
	}
	return ""
}

// classifyDBErr turns a connection error into a finding. The message
// names the database by its redacted form only.
func classifyDBErr(data DatabaseData, err error, timeout time.Duration) (code, msg, fix string) {
	where := data.Where
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		switch s := st.SQLState(); {
		case s == "28P01" || s == "28000":
			return "database_auth", fmt.Sprintf("PostgreSQL at %s refused the user or password (SQLSTATE %s)", where, s),
				"check the user and password in DATABASE_URL (percent-encode special characters) and the server's pg_hba.conf"
		case s == "3D000":
			return "database_unknown", fmt.Sprintf("PostgreSQL at %s has no such database (SQLSTATE %s)", where, s),
				"create it (createdb NAME, or CREATE DATABASE NAME) or fix the database name at the end of DATABASE_URL"
		case s == "57P03" || s == "53300":
			return "database_unavailable", fmt.Sprintf("PostgreSQL at %s is not accepting connections now (SQLSTATE %s)", where, s),
				"the server is starting, shutting down or out of connections (max_connections); retry, or check its log"
		default:
			return "database_error", fmt.Sprintf("PostgreSQL at %s answered with an error (SQLSTATE %s)", where, s),
				"check the server's log for this SQLSTATE"
		}
	}
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "database_refused", fmt.Sprintf("nothing accepts connections at %s (connection refused)", where),
			"start PostgreSQL (service postgresql start) or fix the host and port in DATABASE_URL (default port 5432)"
	case errors.As(err, &dnsErr):
		return "database_dns", fmt.Sprintf("the host of %s does not resolve", where), "fix the host name in DATABASE_URL"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return "database_timeout", fmt.Sprintf("%s did not answer within %s", where, timeout),
			"a firewall drops the packets or the server is overloaded; check the host and port in DATABASE_URL"
	}
	if data.Backend == "sqlite" {
		return "sqlite_error", fmt.Sprintf("cannot open the embedded SQLite database %s: %s", where, scrubErr(err)),
			"check the file is a SQLite database and readable by the service's user, or set DATA_DIR to another directory"
	}
	return "database_error", fmt.Sprintf("cannot reach %s: %s", where, scrubErr(err)), "check DATABASE_URL and the server's log"
}

// scrubErr shortens an error's text; drivers do not print passwords, and
// the report is redacted against Target.Password as a last line.
func scrubErr(err error) string {
	s := err.Error()
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return strings.TrimSpace(s)
}
