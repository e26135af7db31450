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

// waitJS polls a JavaScript predicate in the page until it is true, or
// fails with what the page shows.
func waitJS(t *testing.T, ctx context.Context, what, expr string, within time.Duration) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(within)))
	if err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("%s: %v\nwaited for: %s\npage text:\n%s", what, err, expr, page)
	}
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", p, len(png))
}

// login types token into the form and submits it, as a person would.
func login(t *testing.T, ctx context.Context, token string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
}

// TestDashboardInBrowser drives the real page in headless Chromium against
// serve, a real Redis and real queue data: wrong token, right token, the
// three panels, then Redis killed under the open page.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	b := browsertest.Start(t, &browsertest.Options{Timeout: 60 * time.Second})
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
	_ = rc.Close() // before Redis is killed below, so its pool does not redial
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
	waitJS(t, tab, "login form shown", `!document.getElementById('login').hidden`, 5*time.Second)
	// Health is public: it renders before any token.
	waitJS(t, tab, "health before login", `document.getElementById('redis-status').dataset.state === 'connected'`, 5*time.Second)

	// A wrong token: the server answers 401, the page asks again and says why.
	login(t, tab, "not-the-token")
	waitJS(t, tab, "wrong token rejected",
		`!document.getElementById('login').hidden && document.getElementById('login-msg').textContent.includes('401')`, 10*time.Second)
	if got := evalJS[string](t, tab, `sessionStorage.getItem('zyeute.admin.token') || ''`); got != "" {
		t.Errorf("rejected token kept in sessionStorage: %q", got)
	}
	if !evalJS[bool](t, tab, `document.getElementById('queues').hidden`) {
		t.Error("queue panel visible after a rejected token")
	}

	// The right token.
	login(t, tab, token)
	waitJS(t, tab, "queue row", `(document.querySelector('tr[data-queue="analytics"] [data-col="waiting"]') || {}).textContent === '3'`, 10*time.Second)
	waitJS(t, tab, "moderation stats", `(document.querySelector('tr[data-metric="hits"] [data-col="local"]') || {}).textContent === '1'`, 10*time.Second)

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
	for col, want := range (row{"queue": "analytics", "waiting": "3", "active": "0", "delayed": "1", "failed": "0", "paused": "non / no", "active_without_lock": "0"}) {
		if an[col] != want {
			t.Errorf("analytics %s = %q, want %q (row %v)", col, an[col], want, an)
		}
	}
	if an["oldest_waiting"] == "—" || an["oldest_waiting"] == "" {
		t.Errorf("analytics oldest waiting age not shown: %v", an)
	}
	if got := evalJS[int](t, tab, `document.querySelectorAll('#queues-body tr').length`); got != 5 {
		t.Errorf("%d queue rows, want the 5 Zyeuté queues", got)
	}
	if v := readRow(`tr[data-queue="video-enhancement"]`); v["waiting"] != "0" {
		t.Errorf("video-enhancement row: %v", v)
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
	// The token lives in sessionStorage only: not in the URL, not in a cookie.
	if got := evalJS[string](t, tab, `sessionStorage.getItem('zyeute.admin.token')`); got != token {
		t.Errorf("sessionStorage token = %q", got)
	}
	if got := evalJS[string](t, tab, `location.href + ' ' + document.cookie + ' ' + JSON.stringify(localStorage)`); strings.Contains(got, token) {
		t.Errorf("token leaked into URL, cookie or localStorage: %q", got)
	}
	shots := t.TempDir()
	screenshot(t, tab, shots, "dashboard-connected.png")

	// Kill Redis under the open page: it must notice on its own (no reload).
	evalJS[chromedp.Void](t, tab, `window.__sameDocument = true`)
	r.Kill()
	waitJS(t, tab, "Redis shown disconnected", `document.getElementById('redis-status').dataset.state === 'disconnected'`, 15*time.Second)
	waitJS(t, tab, "degraded banner", `!document.getElementById('banner-degraded').hidden`, 5*time.Second)
	waitJS(t, tab, "queue panel says unavailable", `document.getElementById('queues-msg').textContent.includes('503') && document.getElementById('queues').classList.contains('stale')`, 10*time.Second)
	if !evalJS[bool](t, tab, `window.__sameDocument === true`) {
		t.Error("the page reloaded")
	}
	banner := evalJS[string](t, tab, `document.getElementById('banner-degraded').textContent`)
	if !strings.Contains(banner, "ECONN") || !strings.Contains(banner, "Mode dégradé") {
		t.Errorf("degraded banner does not say why: %q", banner)
	}
	screenshot(t, tab, shots, "dashboard-redis-down.png")

	for _, p := range b.Problems() {
		// 401 and 503 answers are logged by the browser as failed loads; those
		// are expected here. Exceptions and CSP violations are bugs.
		if strings.Contains(p, "exception") || strings.Contains(p, "Content Security Policy") || strings.Contains(p, "Refused to") {
			t.Errorf("browser reported: %s", p)
		} else {
			t.Logf("browser log: %s", p)
		}
	}
	if dir := os.Getenv("DASHBOARD_SCREENSHOTS"); dir != "" {
		for _, n := range []string{"dashboard-connected.png", "dashboard-redis-down.png"} {
			if b, err := os.ReadFile(filepath.Join(shots, n)); err == nil {
				_ = os.WriteFile(filepath.Join(dir, n), b, 0o644)
			}
		}
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
	if !evalJS[bool](t, tab, `!document.getElementById('login').hidden && document.getElementById('queues').hidden`) {
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
	for _, path := range []string{"/api/admin/queue/stats", "/api/admin/moderation/stats"} {
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
