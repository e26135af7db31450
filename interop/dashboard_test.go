package interop

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zyeute/zyeute-redis/dashboard"
	bt "github.com/zyeute/zyeute-redis/internal/browsertest"
	"github.com/zyeute/zyeute-redis/queue"
	"github.com/zyeute/zyeute-redis/session"
)

// nodeStarted is the ids the Node worker peer reported starting so far.
func (p *peer) nodeStarted() map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := map[string]bool{}
	for _, m := range p.all {
		if m.Type == "started" {
			ids[m.ID] = true
		}
	}
	return ids
}

// dashboardServer serves srv, plus the public /api/health the page reads
// (answered as serve answers it when everything is up).
func dashboardServer(t *testing.T, srv *dashboard.Server) *httptest.Server {
	mux := srv.Mux()
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"healthy","redis":{"status":"connected","latency":0.3},"ai":{"provider":"rules","status":"ok"},"database":"not_configured"}`)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close)
	return ts
}

// TestDashboardPauseStopsGoAndNodeWorkers: from the dashboard in a real
// browser, pause a queue served by a Go worker and a Node BullMQ 6.7.0
// worker (both shown as connected workers); jobs added while paused are
// taken by neither; resume from the page and both go back to work. The
// Node worker records metrics, which the queue's throughput chart shows.
func TestDashboardPauseStopsGoAndNodeWorkers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("dash")
	q := e.goQueue(name)

	store, err := session.NewStore(e.c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	const token = "interop-dashboard-token-0123"
	srv, err := dashboard.New(&dashboard.Options{Redis: e.c, Prefix: e.prefix, Sessions: store, AdminToken: token})
	if err != nil {
		t.Fatal(err)
	}
	ts := dashboardServer(t, srv)

	np := startPeer(e.ctx, t, "work", e.args(name, map[string]any{"drainDelay": 1, "metrics": map[string]any{"maxDataPoints": 60}}))
	_, gr := e.goWorker(name, nil, nil)

	// Both workers at work before the pause.
	for i := 0; i < 8; i++ {
		if _, err := q.Add(e.ctx, "warmup", map[string]any{"sleepMs": 300, "return": i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 60*time.Second, "warm-up jobs completed", func() (bool, error) {
		c, err := q.Counts(e.ctx)
		return c.Completed == 8, err
	})
	goStarts, _, _ := gr.snapshot()
	if len(goStarts) == 0 || len(np.nodeStarted()) == 0 {
		t.Fatalf("warm-up: Go started %d, Node %d: both workers must have taken jobs", len(goStarts), len(np.nodeStarted()))
	}

	br := bt.Start(t, &bt.Options{Timeout: 120 * time.Second})
	tab := br.Ctx
	if err := chromedp.Do(tab, chromedp.Navigate(ts.URL+"/admin#/q/"+name+"/completed")); err != nil {
		t.Fatal(err)
	}
	bt.WaitJS(t, tab, "sign-in form", `!document.getElementById('login').hidden`, 15*time.Second)
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Click(chromedp.ID("login-submit"))); err != nil {
		t.Fatal(err)
	}
	bt.WaitJS(t, tab, "two workers shown (Go and Node)", `document.getElementById('q-workers').textContent === 'workers : 2'`, 20*time.Second)
	bt.WaitJS(t, tab, "completed list", `document.querySelectorAll('#jobs-body tr').length === 8`, 15*time.Second)
	bt.WaitJS(t, tab, "throughput from the Node worker's metrics", `(document.querySelector('#q-chart svg') || {dataset: {}}).dataset.max >= 1 && document.getElementById('q-chart-msg').textContent.includes('Total')`, 15*time.Second)

	click := func(sel string) {
		t.Helper()
		if err := chromedp.Do(tab, chromedp.Click(sel)); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
	click("#q-pause")
	waitUntil(t, 20*time.Second, "queue paused from the page", func() (bool, error) { return q.IsPaused(e.ctx) })
	bt.WaitJS(t, tab, "shown paused", `document.getElementById('q-pause').dataset.action === 'resume' && document.getElementById('q-paused').textContent.includes('paused')`, 20*time.Second)

	nodeBefore := len(np.nodeStarted())
	goBefore, _, _ := gr.snapshot()
	var ids []string
	for i := 0; i < 4; i++ {
		j, err := q.Add(e.ctx, "during-pause", map[string]any{"return": "ok"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	// Two drain delays of both workers: long enough for a missed pause to show.
	holdsFor(t, 2500*time.Millisecond, "paused: no worker takes a job", func() bool {
		c, err := q.Counts(e.ctx)
		goNow, _, _ := gr.snapshot()
		return err == nil && c.Waiting == 4 && c.Active == 0 && len(np.nodeStarted()) == nodeBefore && len(goNow) == len(goBefore)
	})
	bt.WaitJS(t, tab, "waiting count on the page", `document.querySelector('[data-state="waiting"]').textContent.includes('(4)')`, 20*time.Second)
	shots := t.TempDir()
	if d := os.Getenv("DASHBOARD_SCREENSHOTS"); d != "" {
		shots = d
	}
	bt.Screenshot(t, tab, filepath.Join(shots, "dashboard-queue-paused.png"))

	click("#q-pause") // now "Resume"
	waitUntil(t, 30*time.Second, "jobs added while paused completed after resume", func() (bool, error) {
		for _, id := range ids {
			st, err := q.GetState(e.ctx, id)
			if err != nil || st != queue.StateCompleted {
				return false, err
			}
		}
		return true, nil
	})
	bt.WaitJS(t, tab, "shown running", `document.getElementById('q-pause').dataset.action === 'pause'`, 20*time.Second)
	bt.WaitJS(t, tab, "completed tab counts them", `document.querySelector('[data-state="completed"]').textContent.includes('(`+strconv.Itoa(12)+`)')`, 20*time.Second)
	for _, p := range br.Problems() {
		t.Logf("browser log: %s", p)
	}
}

// TestDashboardFlowLinks: for a Node FlowProducer flow, the parent's job
// page lists its pending children (links to their queue) before they run;
// then a child's page links its parent, and the parent's lists its
// processed children with their results and no pending one.
func TestDashboardFlowLinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	parentQ, childQ := e.queueName("fp"), e.queueName("fc")
	store, err := session.NewStore(e.c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	const token = "interop-dashboard-token-0123"
	srv, err := dashboard.New(&dashboard.Options{Redis: e.c, Prefix: e.prefix, Sessions: store, AdminToken: token})
	if err != nil {
		t.Fatal(err)
	}
	ts := dashboardServer(t, srv)
	get := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+dashboard.APIPath+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}

	parentID, kids := e.nodeFlow(parentQ, childQ, map[string]any{"p": 1}, []nodeJobSpec{
		{Name: "a", Data: map[string]any{"return": "ra"}}, {Name: "b", Data: map[string]any{"return": "rb"}},
	})
	// Before any child runs, the parent's page lists both as pending.
	var waiting struct {
		State           string
		PendingChildren []struct{ Queue, ID string } `json:"pending_children"`
	}
	get("/queues/"+parentQ+"/jobs/"+parentID, &waiting)
	pend := map[string]bool{}
	for _, c := range waiting.PendingChildren {
		pend[c.ID] = c.Queue == childQ
	}
	if waiting.State != "waiting-children" || len(pend) != 2 || !pend[kids[0]] || !pend[kids[1]] {
		t.Fatalf("parent page before the children ran: %+v (kids %v)", waiting, kids)
	}
	_, gr := e.goWorker(childQ, nil, nil)
	gr.waitFinals(t, 2, 30*time.Second)

	type link struct{ Queue, ID, Key string }
	var child struct {
		Parent *link `json:"parent"`
		State  string
	}
	get("/queues/"+childQ+"/jobs/"+kids[0], &child)
	if child.Parent == nil || child.Parent.Queue != parentQ || child.Parent.ID != parentID || child.State != "completed" {
		t.Fatalf("child page: %+v parent %+v", child, child.Parent)
	}
	var parent struct {
		State           string
		PendingChildren []json.RawMessage `json:"pending_children"`
		Children        []struct {
			Queue, ID string
			Value     json.RawMessage
		}
	}
	get("/queues/"+parentQ+"/jobs/"+parentID, &parent)
	if parent.State != "waiting" || len(parent.Children) != 2 || len(parent.PendingChildren) != 0 {
		t.Fatalf("parent page: %+v", parent)
	}
	got := map[string]string{}
	for _, c := range parent.Children {
		if c.Queue != childQ {
			t.Errorf("child link queue %q, want %q", c.Queue, childQ)
		}
		got[c.ID] = string(c.Value)
	}
	if got[kids[0]] != `"ra"` || got[kids[1]] != `"rb"` {
		t.Errorf("children values %v (kids %v)", got, kids)
	}
}
