package dashboard_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/dashboard"
	"github.com/zyeute/zyeute-redis/queue"
)

var bearer = map[string]string{"Authorization": "Bearer " + testToken}

// TestJobsAPI: paging, search by id, the job page, promote, remove, bulk
// retry of failed jobs, and the errors an operator gets for bad input.
func TestJobsAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	q := b.queue("reports")
	var ids []string
	for i := 0; i < 7; i++ {
		j, err := q.Add(ctx, "build", map[string]any{"n": i}, &queue.AddOptions{Delay: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	base := dashboard.APIPath + "/queues/reports"

	resp, body := b.req("GET", base+"/jobs?state=delayed&size=3&page=2", bearer, "")
	if resp.StatusCode != 200 || body["total"] != float64(7) || len(body["jobs"].([]any)) != 1 {
		t.Fatalf("page 3 of 3: %d %v", resp.StatusCode, body)
	}
	resp, body = b.req("GET", base+"/jobs?id="+ids[4], bearer, "")
	if js := body["jobs"].([]any); resp.StatusCode != 200 || len(js) != 1 || js[0].(map[string]any)["state"] != "delayed" {
		t.Fatalf("search: %d %v", resp.StatusCode, body)
	}
	if _, body = b.req("GET", base+"/jobs?id=nope", bearer, ""); body["total"] != float64(0) {
		t.Errorf("search for a missing id: %v", body)
	}

	resp, body = b.req("POST", base+"/jobs/"+ids[0]+"/promote", bearer, "")
	if resp.StatusCode != 200 {
		t.Fatalf("promote: %d %v", resp.StatusCode, body)
	}
	if st, _ := q.GetState(ctx, ids[0]); st != queue.StateWaiting {
		t.Errorf("promoted job is %s", st)
	}
	resp, body = b.req("POST", base+"/jobs/"+ids[0]+"/retry", bearer, "")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body["error"].(string), "only failed or completed") {
		t.Errorf("retry of a waiting job: %d %v", resp.StatusCode, body)
	}
	resp, _ = b.req("DELETE", base+"/jobs/"+ids[1], bearer, "")
	if _, err := q.GetJob(ctx, ids[1]); resp.StatusCode != 200 || err == nil {
		t.Errorf("remove: %d, job still there (%v)", resp.StatusCode, err)
	}
	resp, body = b.req("GET", base+"/jobs/"+ids[1], bearer, "")
	if resp.StatusCode != 404 || !strings.Contains(body["error"].(string), "no job") {
		t.Errorf("removed job page: %d %v", resp.StatusCode, body)
	}

	resp, body = b.req("GET", base+"/jobs/"+ids[2], bearer, "")
	if resp.StatusCode != 200 || body["state"] != "delayed" || body["name"] != "build" || body["data"].(map[string]any)["n"] != float64(2) {
		t.Errorf("job page: %d %v", resp.StatusCode, body)
	}

	for _, c := range []struct{ method, path, want string }{
		{"GET", base + "/jobs?state=lost", "state"},
		{"GET", base + "/jobs?state=failed&size=1000", "size must be"},
		{"GET", dashboard.APIPath + "/queues/ghost/jobs?state=failed", `no queue "ghost"`},
		{"POST", base + "/explode", "no queue action"},
		{"POST", base + "/jobs/" + ids[2] + "/explode", "no job action"},
	} {
		resp, body := b.req(c.method, c.path, bearer, "")
		if resp.StatusCode < 400 || !strings.Contains(body["error"].(string), c.want) {
			t.Errorf("%s %s: %d %v (want an error with %q)", c.method, c.path, resp.StatusCode, body, c.want)
		}
	}
	// Asking about a queue that does not exist never creates it.
	if n, _ := b.rc.Exists(ctx, b.prefix+":ghost:meta").Result(); n != 0 {
		t.Error("a request created queue ghost")
	}
}

// TestRetryAllFailed: the bulk action moves every failed job back to wait.
func TestRetryAllFailed(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	q := b.queue("flaky")
	w := b.worker("flaky", func(ctx context.Context, j *queue.Job) (any, error) { return nil, context.DeadlineExceeded })
	for i := 0; i < 3; i++ {
		if _, err := q.Add(ctx, "x", map[string]any{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "3 failed", 30*time.Second, func() bool { c, _ := q.Counts(ctx); return c.Failed == 3 })
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := w.Close(cctx); err != nil {
		t.Fatal(err)
	}
	resp, body := b.req("POST", dashboard.APIPath+"/queues/flaky/retry-failed", bearer, "")
	if resp.StatusCode != 200 || body["failed_before"] != float64(3) {
		t.Fatalf("retry-failed: %d %v", resp.StatusCode, body)
	}
	if c, _ := q.Counts(ctx); c.Failed != 0 || c.Waiting != 3 {
		t.Errorf("after retry-failed: %+v", c)
	}
}

// openStream opens the live stream of a queue and returns its reader.
func openStream(t *testing.T, b *bundle, name string) (*http.Response, *bufio.Reader) {
	t.Helper()
	// Bounded: a stream that never sends fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", b.ts.URL+dashboard.APIPath+"/queues/"+name+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, bufio.NewReader(resp.Body)
}

// readEvent reads one "event: x\ndata: y" block (skipping comments).
func readEvent(t *testing.T, r *bufio.Reader) (string, string) {
	t.Helper()
	var ev, data string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && ev != "":
			return ev, data
		case strings.HasPrefix(line, "event: "):
			ev = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// TestLiveStream: the stream relays the queue's events as they are
// written; one stream more than MaxStreams is refused; Close ends them.
func TestLiveStream(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *dashboard.Options) { o.MaxStreams = 1 })
	ctx := context.Background()
	q := b.queue("live")
	if _, err := q.Add(ctx, "first", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	resp, r := openStream(t, b, "live")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if ev, _ := readEvent(t, r); ev != "ready" {
		t.Fatalf("first event %q", ev)
	}
	j, err := q.Add(ctx, "second", map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev, data := readEvent(t, r)
	if ev != "job" || !strings.Contains(data, `"event":"added"`) || !strings.Contains(data, `"job_id":"`+j.ID+`"`) {
		t.Fatalf("event %s %s", ev, data)
	}

	second, _ := b.req("GET", dashboard.APIPath+"/queues/live/events", bearer, "")
	if second.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("stream over the limit: %d", second.StatusCode)
	}

	b.srv.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("stream still open 10s after Close")
	}
}

// TestRedisPanelWarnings: the panel reports the server and the
// misconfigurations doctor knows (here an evicting maxmemory-policy and no
// persistence).
func TestRedisPanelWarnings(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	if err := b.rc.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	resp, body := b.req("GET", dashboard.APIPath+"/redis", bearer, "")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
	nodes := body["nodes"].([]any)
	if len(nodes) != 1 {
		t.Fatalf("nodes: %v", nodes)
	}
	n := nodes[0].(map[string]any)
	if n["role"] != "master" || n["maxmemory_policy"] != "allkeys-lru" || n["used_memory"].(float64) <= 0 || n["latency_ms"].(float64) <= 0 {
		t.Errorf("node: %v", n)
	}
	codes := map[string]bool{}
	for _, w := range n["warnings"].([]any) {
		codes[w.(map[string]any)["code"].(string)] = true
	}
	if !codes["eviction_policy"] {
		t.Errorf("no eviction warning: %v", n["warnings"])
	}
	save, _ := b.rc.ConfigGet(ctx, "save").Result()
	aof, _ := b.rc.ConfigGet(ctx, "appendonly").Result()
	if save["save"] == "" && aof["appendonly"] == "no" && !codes["persistence_off"] {
		t.Errorf("no persistence warning with persistence off: %v", n["warnings"])
	}
}

// TestNoRedis: with Redis not configured, sign-in works (memory session)
// and the queue views say why they are empty.
func TestNoRedis(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *dashboard.Options) { o.Redis = nil })
	c, _ := b.login(nil)
	resp, body := b.req("GET", dashboard.APIPath+"/queues", cookieHdr(c, nil), "")
	if resp.StatusCode != 503 || !strings.Contains(body["error"].(string), "Redis is not configured") {
		t.Errorf("%d %v", resp.StatusCode, body)
	}
}

// TestCleanCompleted: the bulk action removes every completed job (and
// only those) through queue.Queue.Clean and says how many went.
func TestCleanCompleted(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	q := b.queue("thumbs")
	w := b.worker("thumbs", func(ctx context.Context, j *queue.Job) (any, error) {
		if j.Name == "bad" {
			return nil, context.DeadlineExceeded
		}
		return "ok", nil
	})
	for _, name := range []string{"good", "good", "good", "bad"} {
		if _, err := q.Add(ctx, name, map[string]any{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "3 completed, 1 failed", 30*time.Second, func() bool {
		c, _ := q.Counts(ctx)
		return c.Completed == 3 && c.Failed == 1
	})
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := w.Close(cctx); err != nil {
		t.Fatal(err)
	}
	resp, body := b.req("POST", dashboard.APIPath+"/queues/thumbs/clean-completed", bearer, "")
	if resp.StatusCode != 200 || body["removed"] != float64(3) || body["action"] != "clean-completed" {
		t.Fatalf("clean-completed: %d %v", resp.StatusCode, body)
	}
	if c, _ := q.Counts(ctx); c.Completed != 0 || c.Failed != 1 {
		t.Errorf("after clean-completed: %+v (want 0 completed, the failed job kept)", c)
	}
	// The overview is not served from its cache after the action.
	_, ov := b.req("GET", dashboard.APIPath+"/queues", bearer, "")
	row := ov["queues"].([]any)[0].(map[string]any)
	if n := row["counts"].(map[string]any)["completed"]; n != float64(0) {
		t.Errorf("overview completed = %v after clean", n)
	}
	// Nothing left: a second click removes nothing, and says so.
	if resp, body = b.req("POST", dashboard.APIPath+"/queues/thumbs/clean-completed", bearer, ""); resp.StatusCode != 200 || body["removed"] != float64(0) {
		t.Errorf("second clean-completed: %d %v", resp.StatusCode, body)
	}
}
