package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zyeute/zyeute-redis/health"
	"github.com/zyeute/zyeute-redis/internal/httpapi"
	"github.com/zyeute/zyeute-redis/internal/testlog"
)

// TestAccessLog: with AccessLog, every request is one info line with
// method, path (no query), status and duration, and no header, query or
// token; without it, an info-level logger sees no request line.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	const token = "access-Token-77"
	for _, on := range []bool{true, false} {
		logs := &testlog.Buffer{}
		h, err := health.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		handler, err := httpapi.NewHandler(httpapi.Deps{Health: h, AccessLog: on,
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(handler)
		t.Cleanup(ts.Close)
		srv := ts.URL
		req, _ := http.NewRequest("GET", srv+"/livez?secret="+token, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		resp, err = http.Get(srv + "/nope")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		out := logs.String()
		if strings.Contains(out, token) || strings.Contains(out, "secret=") {
			t.Errorf("access log leaks the query or a header: %s", out)
		}
		lines := strings.Count(out, `msg="http request"`)
		if !on {
			if lines != 0 {
				t.Errorf("AccessLog off, info logger: %d request lines:\n%s", lines, out)
			}
			continue
		}
		for _, want := range []string{`level=INFO msg="http request" method=GET path=/livez status=200 duration=`, `path=/nope status=404`} {
			if !strings.Contains(out, want) {
				t.Errorf("access log lacks %q:\n%s", want, out)
			}
		}
		if lines != 2 {
			t.Errorf("%d request lines, want 2:\n%s", lines, out)
		}
	}
}
