package jobs

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHTTPRoutesDegraded(t *testing.T) {
	t.Parallel()
	reg, _ := NewRegistry(nil)
	d, _ := NewDispatcher(reg, nil, nil)
	st, _ := NewStats(nil, reg.Names(), nil)
	mux := http.NewServeMux()
	for _, r := range Routes(d, st, nil) {
		mux.Handle(r.Pattern, r.Handler)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	big := `{"data":{"events":[` + strings.Repeat(`{"type":"like","video_id":"v"},`, 3000) + `]}}`
	for _, tt := range []struct {
		method, path, body string
		status             int
		contains           string
	}{
		{"POST", "/api/jobs/analytics", `{"data":` + analyticsBatch + `}`, 200, `"mode":"sync"`},
		{"POST", "/api/jobs/analytics", `{"name":"n","data":` + analyticsBatch + `,"opts":{"attempts":2,"delay_ms":10}}`, 200, `"delay_ignored":true`},
		{"POST", "/api/jobs/analytics", `{"data":` + analyticsBatch + `,"extra":1}`, 400, `unknown field \"extra\"`},
		{"POST", "/api/jobs/analytics", `{"data":` + analyticsBatch + `,"opts":{"job_id":"active"}}`, 400, `opts.job_id: \"active\" names one of the queue's own keys`},
		{"POST", "/api/jobs/analytics", `{"data":` + analyticsBatch + `,"opts":{"retries":1}}`, 400, `unknown field \"retries\"`},
		{"POST", "/api/jobs/analytics", `{"data":{"events":[{"type":"view","video_id":""}]}}`, 400, `field events[0].video_id: is required`},
		{"POST", "/api/jobs/analytics", `{"data":` + analyticsBatch + `,"opts":{"delay_ms":-1}}`, 400, `opts.delay_ms`},
		{"POST", "/api/jobs/analytics", `{"data":` + analyticsBatch + `,"opts":{"job_id":"7"}}`, 400, `opts.job_id`},
		{"POST", "/api/jobs/analytics", big, 413, `larger than`},
		{"POST", "/api/jobs/analytics", `not json`, 400, `invalid JSON body`},
		{"POST", "/api/jobs/transcode", `{"data":{}}`, 404, `unknown queue \"transcode\"`},
		{"GET", "/api/jobs/analytics/1", ``, 503, `not configured`},
		{"GET", "/api/jobs/transcode/1", ``, 404, `unknown queue`},
		{"GET", "/api/admin/queue/stats", ``, 503, `queue stats: Redis unavailable: not configured`},
	} {
		status, body := do(tt.method, tt.path, tt.body)
		if status != tt.status || !strings.Contains(body, tt.contains) {
			t.Errorf("%s %s %.60s: %d %s (want %d containing %q)", tt.method, tt.path, tt.body, status, body, tt.status, tt.contains)
		}
	}
}
