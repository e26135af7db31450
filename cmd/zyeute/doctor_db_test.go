package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zyeute/zyeute-redis/internal/store"
	"github.com/zyeute/zyeute-redis/internal/store/storetest"
)

type dbFinding struct {
	Code, Status, Message, Fix string
}

// doctorDB runs `zyeute doctor --json` (Redis unset) and returns the
// database check's findings and data.
func doctorDB(t *testing.T, vars map[string]string) ([]dbFinding, map[string]any, string) {
	t.Helper()
	out, _ := runDoctorWith(t, vars, "--json")
	var rep struct {
		Checks []struct {
			ID       string         `json:"id"`
			Findings []dbFinding    `json:"findings"`
			Data     map[string]any `json:"data"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, c := range rep.Checks {
		if c.ID == "database" {
			return c.Findings, c.Data, out
		}
	}
	t.Fatalf("no database check:\n%s", out)
	return nil, nil, ""
}

func wantCode(t *testing.T, fs []dbFinding, out, code, status string) dbFinding {
	t.Helper()
	for _, f := range fs {
		if f.Code == code {
			if f.Status != status {
				t.Fatalf("finding %s: status %s, want %s\n%s", code, f.Status, status, out)
			}
			return f
		}
	}
	t.Fatalf("no finding %s:\n%s", code, out)
	return dbFinding{}
}

func TestDoctorDatabasePostgres(t *testing.T) {
	ctx := context.Background()
	dbURL := storetest.PostgresURL(t)

	// A fresh database: connected, migrations pending; then migrated.
	fs, data, out := doctorDB(t, map[string]string{"DATABASE_URL": dbURL})
	wantCode(t, fs, out, "connected", "ok")
	wantCode(t, fs, out, "migrations_pending", "warn")
	if data["backend"] != "postgres" || data["version"] == "" {
		t.Fatalf("data %v", data)
	}
	st, err := store.Open(ctx, store.Config{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	fs, _, out = doctorDB(t, map[string]string{"DATABASE_URL": dbURL})
	wantCode(t, fs, out, "migrations", "ok")

	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	fs, _, out = doctorDB(t, map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:" + itoa(port) + "/x?sslmode=disable"})
	if f := wantCode(t, fs, out, "database_refused", "fail"); !strings.Contains(f.Fix, "5432") {
		t.Fatalf("fix %q", f.Fix)
	}

	// A user the server refuses, with a password that must never print.
	const pw = "db-Secr3t-pw-xyz"
	u := strings.Replace(dbURL, "postgres@", "zyeute_no_such_role:"+pw+"@", 1)
	fs, _, out = doctorDB(t, map[string]string{"DATABASE_URL": u})
	wantCode(t, fs, out, "database_auth", "fail")
	if strings.Contains(out, pw) {
		t.Fatalf("doctor printed the database password:\n%s", out)
	}

	// No such database.
	i := strings.LastIndex(dbURL, "/")
	fs, _, out = doctorDB(t, map[string]string{"DATABASE_URL": dbURL[:i+1] + "zyeute_no_such_db" + dbURL[i+len("/zyeute_test_000000000000"):]})
	wantCode(t, fs, out, "database_unknown", "fail")
}

func TestDoctorDatabaseSQLite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	fs, data, out := doctorDB(t, map[string]string{"DATA_DIR": dir})
	wantCode(t, fs, out, "sqlite_new", "ok")
	if data["where"] != filepath.Join(dir, store.DefaultFile) {
		t.Fatalf("data %v", data)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("doctor created the data directory")
	}
	st, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	fs, data, out = doctorDB(t, map[string]string{"DATA_DIR": dir})
	wantCode(t, fs, out, "sqlite", "ok")
	wantCode(t, fs, out, "migrations", "ok")
	if data["writable"] != true || data["version"] == "" {
		t.Fatalf("data %v", data)
	}
	// Not a database.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, store.DefaultFile), []byte("not a database, just text; long enough to be read as a header....."), 0o600); err != nil {
		t.Fatal(err)
	}
	fs, _, out = doctorDB(t, map[string]string{"DATA_DIR": bad})
	wantCode(t, fs, out, "sqlite_error", "fail")
}
