package jobs

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/health"
	"github.com/zyeute/zyeute-redis/internal/httpapi"
	"github.com/zyeute/zyeute-redis/secret"
)

const testAdminToken = "admin-token-0123456789abcdef"

// apiServer serves the job routes through httpapi.NewHandler (auth, JSON
// errors) on a real Redis, as serve does.
func apiServer(t *testing.T, b *bundle, obs Observer) (*httptest.Server, *Dispatcher) {
	t.Helper()
	d, err := NewDispatcher(b.reg, b.conn, &DispatcherConfig{Prefix: b.prefix, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	st, err := NewStats(b.conn, b.reg.Names(), &StatsConfig{Prefix: b.prefix, TTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	h, err := health.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	handler, err := httpapi.NewHandler(httpapi.Deps{Health: h, AdminToken: secret.String(testAdminToken), Routes: Routes(d, st, nil)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv, d
}

type apiResp struct {
	status int
	body   string
	json   map[string]any
}

func call(t *testing.T, srv *httptest.Server, method, path, contentType, body string, hdr ...string) apiResp {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := apiResp{status: resp.StatusCode, body: string(b)}
	_ = json.Unmarshal(b, &r.json)
	return r
}

// keyTypes is every key under the test's prefix with its type.
func keyTypes(t *testing.T, b *bundle) map[string]string {
	t.Helper()
	ctx := context.Background()
	c := b.conn.Client()
	out := map[string]string{}
	keys, err := c.Keys(ctx, b.prefix+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		out[k] = c.Type(ctx, k).Val()
	}
	return out
}

// Issue 10 item 2, the exact attack: opts.job_id "active" (and every other
// name of the queue's layout) used to be accepted, after which the queue
// jammed (WRONGTYPE) or every POST answered 500 while writing the job, and
// GET /api/jobs/q/meta returned a fake job. Now: 400 naming opts.job_id,
// nothing written, GET answers 404, and the queue keeps working.
func TestHTTPJobIDCollidingWithQueueKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv, d := apiServer(t, b, nil)
	ctx := context.Background()
	const ct = "application/json"
	data := `{"data":` + analyticsBatch

	// State first: a waiting job, a delayed job, meta, events, the counter.
	first := call(t, srv, "POST", "/api/jobs/analytics", ct, data+`}`)
	if first.status != 202 {
		t.Fatalf("first add: %d %s", first.status, first.body)
	}
	if r := call(t, srv, "POST", "/api/jobs/analytics", ct, data+`,"opts":{"delay_ms":3600000}}`); r.status != 202 {
		t.Fatalf("delayed add: %d %s", r.status, r.body)
	}
	before := keyTypes(t, b)
	attack := []string{"active", "wait", "paused", "delayed", "prioritized", "completed", "failed", "marker", "meta",
		"events", "id", "limiter", "stalled", "stalled-check", "pc", "de", "dn", "repeat", "waiting-children",
		"metrics", "priority", "delay", "metrics:completed:data", "de:x:y", "repeat:x:y"}
	for _, id := range attack {
		r := call(t, srv, "POST", "/api/jobs/analytics", ct, data+`,"opts":{"job_id":"`+id+`"}}`)
		if r.status != 400 || !strings.Contains(r.body, "opts.job_id") || !strings.Contains(r.body, "queue's own keys") {
			t.Errorf("job_id %q: %d %s", id, r.status, r.body)
		}
	}
	after := keyTypes(t, b)
	if len(after) != len(before) {
		t.Errorf("rejected adds wrote keys:\nbefore %v\nafter  %v", sorted(before), sorted(after))
	}
	for k, typ := range before {
		if after[k] != typ {
			t.Errorf("key %s: type %s -> %s", k, typ, after[k])
		}
	}

	// GET with a queue key's name: 404 in the JSON format, never 500 or a
	// fake job.
	probes := append([]string{}, attack...)
	probes = append(probes, first.json["id"].(string)+":lock", "de:x", "repeat:x")
	for _, id := range probes {
		r := call(t, srv, "GET", "/api/jobs/analytics/"+id, "", "")
		if r.status != 404 || r.json["error"] != "job not found" {
			t.Errorf("GET %s: %d %s", id, r.status, r.body)
		}
	}

	// The queue keeps working: workers run the first job, stats answer.
	defer startPool(t, ctx, b.conn.Client(), b.reg, &PoolConfig{Queues: []string{Analytics}, Prefix: b.prefix, Concurrency: 2})()
	next := call(t, srv, "POST", "/api/jobs/analytics", ct, data+`}`)
	for _, id := range []string{first.json["id"].(string), next.json["id"].(string)} {
		waitFor(t, 15*time.Second, "job "+id+" completed", func() bool {
			info, err := d.Job(ctx, Analytics, id)
			return err == nil && info.State == "completed"
		})
	}
	if r := call(t, srv, "GET", "/api/admin/queue/stats", "", "", "Authorization", "Bearer "+testAdminToken); r.status != 200 {
		t.Errorf("stats: %d %s", r.status, r.body)
	}
}

func sorted(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Issue 10 items 4 and 15, and the route flags of item 3.
func TestHTTPEnqueueStrictAndDuplicate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	obs := &countingObserver{}
	srv, d := apiServer(t, b, obs)
	ctx := context.Background()
	body := `{"data":` + analyticsBatch + `,"opts":{"job_id":"order-1"}}`

	// Item 4: only application/json; nothing stored otherwise (CSRF).
	for _, ct := range []string{"", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		if r := call(t, srv, "POST", "/api/jobs/analytics", ct, body); r.status != 415 || r.json["status"] != 415.0 {
			t.Errorf("Content-Type %q: %d %s", ct, r.status, r.body)
		}
	}
	for _, tt := range []struct{ body, want string }{
		{body + ` {"data":{}}`, "trailing data after the JSON value"},
		{`{"data":` + analyticsBatch + `,"data":{"events":[]}}`, `duplicate key \"data\"`},
		{`{"data":` + analyticsBatch + `,"Data":{"events":[]}}`, `keys \"data\" and \"Data\" differ only by case`},
		{`{"DATA":` + analyticsBatch + `}`, `key \"DATA\" must be spelled \"data\"`},
		{`{"data":` + analyticsBatch + `,"opts":{"job_id":"a","JOB_ID":"active"}}`, `differ only by case`},
		{`{"data":{"events":[{"type":"view","video_id":"v","video_id":"w"}]}}`, `duplicate key \"data.events[0].video_id\"`},
		// A miscased payload field: encoding/json would fill video_id from it.
		{`{"data":{"events":[{"type":"view","Video_ID":"v"}]}}`, `key \"events[0].Video_ID\" must be spelled \"video_id\"`},
	} {
		if r := call(t, srv, "POST", "/api/jobs/analytics", "application/json", tt.body); r.status != 400 || !strings.Contains(r.body, tt.want) {
			t.Errorf("%.70s: %d %s (want 400 %s)", tt.body, r.status, r.body, tt.want)
		}
	}
	// The worker path checks stored payloads the same way (a job added by
	// another producer).
	spec, _ := b.reg.Spec(Analytics)
	if err := spec.Validate(json.RawMessage(`{"Events":[{"type":"view","video_id":"v"}]}`)); err == nil || !strings.Contains(err.Error(), `must be spelled "events"`) {
		t.Errorf("Validate miscased: %v", err)
	}
	if n := len(keyTypes(t, b)); n != 0 {
		t.Fatalf("refused requests wrote %d keys", n)
	}

	// Item 15: the first add is queued (202), a re-submit of the same
	// job_id with other data says duplicate (200) with the existing job's
	// state, and changes nothing.
	r := call(t, srv, "POST", "/api/jobs/analytics", "application/json; charset=utf-8", body)
	if r.status != 202 || r.json["id"] != "order-1" || r.json["duplicate"] != nil {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	stored, err := d.Queue(Analytics).GetJob(ctx, "order-1")
	if err != nil {
		t.Fatal(err)
	}
	other := `{"data":{"events":[{"type":"share","video_id":"v9"}]},"opts":{"job_id":"order-1"}}`
	r = call(t, srv, "POST", "/api/jobs/analytics", "application/json", other)
	if r.status != 200 || r.json["duplicate"] != true || r.json["id"] != "order-1" || r.json["state"] != "waiting" || r.json["mode"] != "queued" {
		t.Fatalf("re-submit: %d %s", r.status, r.body)
	}
	again, err := d.Queue(Analytics).GetJob(ctx, "order-1")
	if err != nil || string(again.Data) != string(stored.Data) {
		t.Fatalf("stored data changed: %s -> %s (%v)", stored.Data, again.Data, err)
	}
	if obs.get("enqueued/analytics/queued") != 1 || obs.get("enqueued/analytics/duplicate") != 1 {
		t.Errorf("observer = %v", obs.counts)
	}
	// The default job id (counter) never collides.
	if r := call(t, srv, "POST", "/api/jobs/analytics", "application/json", `{"data":`+analyticsBatch+`}`); r.status != 202 || r.json["duplicate"] != nil {
		t.Errorf("counter id: %d %s", r.status, r.body)
	}

	// Item 3: the job routes are Service routes; through a proxy (not a
	// direct loopback client) they need a token.
	for _, rt := range Routes(d, nil, nil) {
		if strings.Contains(rt.Pattern, "/api/jobs/") && !rt.Service {
			t.Errorf("%s is not a Service route", rt.Pattern)
		}
	}
	if r := call(t, srv, "GET", "/api/jobs/analytics/order-1", "", "", "X-Forwarded-For", "203.0.113.9"); r.status != 401 {
		t.Errorf("proxied without token: %d %s", r.status, r.body)
	}
	if r := call(t, srv, "GET", "/api/jobs/analytics/order-1", "", "", "X-Forwarded-For", "203.0.113.9", "Authorization", "Bearer "+testAdminToken); r.status != 200 || r.json["state"] != "waiting" {
		t.Errorf("proxied with admin token: %d %s", r.status, r.body)
	}
	// Item 13: unknown routes and wrong methods answer the JSON format.
	if r := call(t, srv, "GET", "/api/nope", "", ""); r.status != 404 || r.json["status"] != 404.0 {
		t.Errorf("unknown route: %d %s", r.status, r.body)
	}
	if r := call(t, srv, "DELETE", "/api/jobs/analytics/order-1", "", ""); r.status != 405 || r.json["status"] != 405.0 {
		t.Errorf("DELETE: %d %s", r.status, r.body)
	}
}
