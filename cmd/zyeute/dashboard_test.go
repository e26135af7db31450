package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/dashboard"
	"github.com/zyeute/zyeute-redis/internal/browsertest"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

// login types token into the form and submits it, as a person would.
func login(t *testing.T, ctx context.Context, token string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.Clear(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
}

var (
	waitJS = browsertest.WaitJS
)

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return browsertest.Eval[T](t, ctx, expr)
}

// TestDashboardInBrowser drives the real page in headless Chromium against
// serve, a real Redis and real queue data: wrong token, right token (a
// session in Redis, the token kept nowhere in the page), the panels, the
// secret never logged, then Redis killed under the open page: the session
// stored in Redis cannot be read any more, so the page asks to sign in
// again; the new session lives in serve's memory and the page shows the
// degraded state.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	b := browsertest.Start(t, &browsertest.Options{Timeout: 90 * time.Second})
	const token = "dash-Admin-Tok-0123456789"
	const pw = "dash-Redis-Pw-42"
	r := redistest.Start(t, &redistest.Options{Password: pw})
	prefix := "dash"
	s := startServe(t, map[string]string{
		"REDIS_URL": "redis://:" + pw + "@" + r.Addr(), "ADMIN_TOKEN": token,
		"WORKERS": "false", "QUEUE_PREFIX": prefix,
	})
	s.waitRedis(t, "connected", 10*time.Second)

	// Queue data: 3 waiting and 1 delayed job in analytics, through the
	// queue package the Node side interoperates with.
	ctx := context.Background()
	rc := redis.NewClient(r.Options())
	defer rc.Close()
	q, err := queue.NewQueue(rc, "analytics", &queue.QueueOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := q.Add(ctx, "analytics", map[string]any{"n": i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Add(ctx, "analytics", map[string]any{"n": "later"}, &queue.AddOptions{Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	// Moderation: one miss, then one hit for the same text.
	for i := 0; i < 2; i++ {
		if code, doc := postModeration(t, s.base, `{"text":"Belle vidéo, bravo!"}`); code != 200 {
			t.Fatalf("moderation: %d %v", code, doc)
		}
	}

	tab := b.Ctx
	if err := chromedp.Do(tab, chromedp.Navigate(s.base+"/admin")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, tab, "login form shown", `!document.getElementById('login').hidden`, 10*time.Second)
	// Health is public: it renders before any token.
	waitJS(t, tab, "health before login", `document.getElementById('redis-status').dataset.state === 'connected'`, 10*time.Second)

	// A wrong token: the server answers 401, the page asks again and says why.
	login(t, tab, "not-the-token")
	waitJS(t, tab, "wrong token rejected",
		`!document.getElementById('login').hidden && document.getElementById('login-msg').textContent.includes('401')`, 10*time.Second)
	if !evalJS[bool](t, tab, `document.getElementById('view-overview').hidden`) {
		t.Error("queue panel visible after a rejected token")
	}

	// The right token.
	login(t, tab, token)
	waitJS(t, tab, "queue row", `(document.querySelector('tr[data-queue="analytics"] [data-col="waiting"]') || {}).textContent === '3'`, 15*time.Second)
	waitJS(t, tab, "moderation stats", `(document.querySelector('tr[data-metric="hits"] [data-col="local"]') || {}).textContent === '1'`, 15*time.Second)

	type row map[string]string
	readRow := func(sel string) row {
		raw := evalJS[string](t, tab, `JSON.stringify(Object.fromEntries(Array.from(document.querySelectorAll('`+sel+` [data-col]')).map(c => [c.dataset.col, c.textContent])))`)
		out := row{}
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatalf("row %s: %v", sel, err)
		}
		return out
	}
	an := readRow(`tr[data-queue="analytics"]`)
	for col, want := range (row{"queue": "analytics", "waiting": "3", "active": "0", "delayed": "1", "failed": "0", "paused": "non / no", "workers": "0", "active_without_lock": "0"}) {
		if an[col] != want {
			t.Errorf("analytics %s = %q, want %q (row %v)", col, an[col], want, an)
		}
	}
	if an["oldest_waiting"] == "—" || an["oldest_waiting"] == "" {
		t.Errorf("analytics oldest waiting age not shown: %v", an)
	}
	// Discovery: only queues that exist under the prefix are listed.
	if got := evalJS[int](t, tab, `document.querySelectorAll('#queues-body tr').length`); got != 1 {
		t.Errorf("%d queue rows, want the one queue that exists", got)
	}
	for metric, want := range map[string]string{"hits": "1", "misses": "1", "bypasses": "0", "errors": "0", "hit_rate": "50.0 %"} {
		if got := readRow(`tr[data-metric="` + metric + `"]`)["local"]; got != want {
			t.Errorf("moderation %s (this process) = %q, want %q", metric, got, want)
		}
	}
	health := evalJS[string](t, tab, `document.getElementById('health').innerText`)
	for _, want := range []string{"connecté / connected", " ms", "rules"} {
		if !strings.Contains(health, want) {
			t.Errorf("health panel lacks %q:\n%s", want, health)
		}
	}
	if !evalJS[bool](t, tab, `document.getElementById('banner-degraded').hidden && document.getElementById('banner-error').hidden`) {
		t.Error("a banner is shown while everything is up")
	}
	// The token is kept nowhere in the page; the session is in Redis.
	if got := evalJS[string](t, tab, `location.href + ' ' + document.cookie + ' ' + JSON.stringify(localStorage) + JSON.stringify(sessionStorage)`); strings.Contains(got, token) || strings.Contains(got, "zyeute_admin") {
		t.Errorf("token or session cookie readable by the page: %q", got)
	}
	if ks, _ := rc.Keys(ctx, dashboardSessionPrefix+"*").Result(); len(ks) != 1 {
		t.Errorf("admin sessions in Redis: %v", ks)
	}
	shots := t.TempDir()
	if d := os.Getenv("DASHBOARD_SCREENSHOTS"); d != "" {
		shots = d // refreshes docs/screenshots
	}
	polls := evalJS[int](t, tab, `Number(document.body.dataset.polls || 0)`)
	waitJS(t, tab, "two more polls (depth chart)", `Number(document.body.dataset.polls) >= `+strconv.Itoa(polls+2), 15*time.Second)
	browsertest.Screenshot(t, tab, filepath.Join(shots, "dashboard-connected.png"))
	_ = rc.Close() // before Redis is killed below, so its pool does not redial

	// Kill Redis under the open page: it must notice on its own (no reload).
	evalJS[bool](t, tab, `window.__sameDocument = true`)
	r.Kill()
	waitJS(t, tab, "Redis shown disconnected", `document.getElementById('redis-status').dataset.state === 'disconnected'`, 20*time.Second)
	waitJS(t, tab, "degraded banner", `!document.getElementById('banner-degraded').hidden`, 10*time.Second)
	// The session was in Redis: the page asks to sign in again.
	waitJS(t, tab, "sign in again", `!document.getElementById('login').hidden`, 20*time.Second)
	login(t, tab, token)
	waitJS(t, tab, "queue panel says unavailable", `!document.getElementById('view-overview').hidden && document.getElementById('queues-msg').textContent.includes('503') && document.getElementById('queues').classList.contains('stale')`, 20*time.Second)
	if !evalJS[bool](t, tab, `window.__sameDocument === true`) {
		t.Error("the page reloaded")
	}
	if got := evalJS[string](t, tab, `document.body.dataset.session`); got != "memory" {
		t.Errorf("session backend with Redis down = %q, want memory", got)
	}
	banner := evalJS[string](t, tab, `document.getElementById('banner-degraded').textContent`)
	if !strings.Contains(banner, "ECONN") || !strings.Contains(banner, "Mode dégradé") {
		t.Errorf("degraded banner does not say why: %q", banner)
	}
	browsertest.Screenshot(t, tab, filepath.Join(shots, "dashboard-redis-down.png"))

	for _, p := range b.Problems() {
		// 401 and 503 answers are logged by the browser as failed loads; those
		// are expected here. Exceptions and CSP violations are bugs.
		if strings.Contains(p, "exception") || strings.Contains(p, "Content Security Policy") || strings.Contains(p, "Refused to") {
			t.Errorf("browser reported: %s", p)
		} else {
			t.Logf("browser log: %s", p)
		}
	}
	if logs := s.stderr.String(); strings.Contains(logs, token) || strings.Contains(logs, pw) {
		t.Error("serve logged the admin token or the Redis password")
	}
}

// TestDashboardTokenNotSet: with no ADMIN_TOKEN (and no Redis), the page
// says how to set the token and shows the degraded state; when the server
// goes away it shows the fetch error and keeps polling.
func TestDashboardTokenNotSet(t *testing.T) {
	t.Parallel()
	b := browsertest.Start(t, &browsertest.Options{Timeout: 90 * time.Second})
	s := startServe(t, map[string]string{"WORKERS": "false"})
	tab := b.Ctx
	if err := chromedp.Do(tab, chromedp.Navigate(s.base+"/admin/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, tab, "not configured shown", `document.getElementById('redis-status').dataset.state === 'not_configured' && !document.getElementById('banner-degraded').hidden`, 10*time.Second)
	login(t, tab, "anything")
	waitJS(t, tab, "how to set ADMIN_TOKEN", `document.getElementById('login-msg').textContent.includes('503') && document.getElementById('login-msg').textContent.includes('ADMIN_TOKEN=')`, 10*time.Second)
	if !evalJS[bool](t, tab, `!document.getElementById('login').hidden && document.getElementById('view-overview').hidden`) {
		t.Error("login not shown again after 503")
	}

	// The server goes away: the page says so and keeps polling.
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	waitJS(t, tab, "fetch error shown", `!document.getElementById('banner-error').hidden && document.getElementById('banner-error').textContent.includes('/api/health')`, 10*time.Second)
	polls := evalJS[int](t, tab, `Number(document.body.dataset.polls)`)
	waitJS(t, tab, "still polling", `Number(document.body.dataset.polls) >= `+strconv.Itoa(polls+2), 10*time.Second)
	if !evalJS[bool](t, tab, `document.getElementById('health').classList.contains('stale')`) {
		t.Error("health panel not marked stale while the server is unreachable")
	}
}

// TestDashboardServedWithHeaders checks serve mounts the page
// without auth and with its security headers, and keeps the data routes
// behind the token.
func TestDashboardServedWithHeaders(t *testing.T) {
	t.Parallel()
	s := startServe(t, map[string]string{"ADMIN_TOKEN": "hdr-admin-token-123456", "WORKERS": "false"})
	for _, path := range []string{"/admin", "/admin/", "/admin/app.js", "/admin/style.css"} {
		resp, err := http.Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != dashboard.ContentSecurityPolicy {
			t.Errorf("%s CSP = %q", path, got)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s headers: %v", path, resp.Header)
		}
	}
	for _, path := range []string{"/api/admin/queue/stats", "/api/admin/moderation/stats", "/admin/api/queues", "/admin/api/moderation", "/admin/api/redis"} {
		resp, err := http.Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without token: %d", path, resp.StatusCode)
		}
	}
}

// TestDashboardTrustProxyWiring: serve passes TRUST_PROXY to the
// dashboard: behind a trusted https proxy the session cookie is Secure
// with the __Host- prefix; without it the header is ignored.
func TestDashboardTrustProxyWiring(t *testing.T) {
	t.Parallel()
	const token = "proxy-admin-token-123456"
	for _, trust := range []bool{true, false} {
		s := startServe(t, map[string]string{"ADMIN_TOKEN": token, "WORKERS": "false", "TRUST_PROXY": strconv.FormatBool(trust)})
		req, _ := http.NewRequest("POST", s.base+dashboard.APIPath+"/login", strings.NewReader(`{"token":"`+token+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-Proto", "https")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cs := resp.Cookies()
		if resp.StatusCode != 200 || len(cs) != 1 {
			t.Fatalf("trust=%v: %d %v", trust, resp.StatusCode, cs)
		}
		if secure := cs[0].Secure && cs[0].Name == dashboard.SecureCookieName; secure != trust {
			t.Errorf("TRUST_PROXY=%v: cookie %s secure=%v", trust, cs[0].Name, cs[0].Secure)
		}
	}
}

// TestDashboardLiveStreamEndsAtShutdown: an open live stream does not hold
// serve's shutdown: it ends as soon as shutdown begins.
func TestDashboardLiveStreamEndsAtShutdown(t *testing.T) {
	t.Parallel()
	const token = "live-admin-token-1234567"
	r := redistest.Start(t, nil)
	s := startServe(t, map[string]string{"REDIS_URL": "redis://" + r.Addr(), "ADMIN_TOKEN": token, "WORKERS": "false"})
	s.waitRedis(t, "connected", 10*time.Second)
	rc := redis.NewClient(r.Options())
	defer rc.Close()
	q, err := queue.NewQueue(rc, "live", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Add(context.Background(), "x", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", s.base+dashboard.APIPath+"/queues/live/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		_, _ = io.Copy(io.Discard, resp.Body)
	}()
	start := time.Now()
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("live stream still open after shutdown")
	}
	// SHUTDOWN_TIMEOUT is 10 s: a stream holding the server would take that long.
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("shutdown took %s with a live stream open", d)
	}
}
