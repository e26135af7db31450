package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/zyeute/zyeute-redis/internal/redistest"
)

func runDoctorWith(t *testing.T, vars map[string]string, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), append([]string{"doctor"}, args...), func(k string) string { return vars[k] }, &out, &errb)
	return out.String() + errb.String(), exitCode(err)
}

func TestDoctorCommand(t *testing.T) {
	t.Parallel()
	const pw = "doctor-Secr3t-pw"
	srv := redistest.Start(t, &redistest.Options{Password: pw})

	t.Run("healthy except persistence", func(t *testing.T) {
		out, code := runDoctorWith(t, map[string]string{"REDIS_URL": "redis://:" + pw + "@" + srv.Addr(), "REDIS_HOST": "ignored.example",
			"DATA_DIR": t.TempDir()}, "--json")
		var rep struct {
			Checks []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"checks"`
			ExitCode int `json:"exit_code"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("--json output is not JSON: %v\n%s", err, out)
		}
		// Test servers run without persistence, which doctor warns about.
		if code != 1 || len(rep.Checks) != 10 {
			t.Fatalf("exit %d, %d checks:\n%s", code, len(rep.Checks), out)
		}
		for _, c := range rep.Checks {
			if c.Status == "fail" {
				t.Errorf("check %s failed:\n%s", c.ID, out)
			}
		}
		if strings.Contains(out, pw) {
			t.Fatal("doctor printed the password")
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		out, code := runDoctorWith(t, map[string]string{"REDIS_HOST": "127.0.0.1", "REDIS_PORT": itoa(srv.Port()), "REDIS_PASSWORD": "not-the-" + pw})
		if code != 2 || !strings.Contains(out, "WRONGPASS") && !strings.Contains(strings.ToLower(out), "wrong") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if strings.Contains(out, pw) {
			t.Fatal("doctor printed the password")
		}
	})

	t.Run("invalid configuration", func(t *testing.T) {
		out, code := runDoctorWith(t, map[string]string{"REDIS_URL": "http://:" + pw + "@host"})
		if code != 2 || !strings.Contains(out, "REDIS_URL") || strings.Contains(out, pw) {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
