package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zyeute/zyeute-redis/dashboard"
	bt "github.com/zyeute/zyeute-redis/internal/browsertest"
	"github.com/zyeute/zyeute-redis/queue"
)

// shotDir is where screenshots go: DASHBOARD_SCREENSHOTS (to refresh
// docs/screenshots) or the test's temp dir.
func shotDir(t *testing.T) string {
	if d := os.Getenv("DASHBOARD_SCREENSHOTS"); d != "" {
		return d
	}
	return t.TempDir()
}

// signIn opens the page and signs in with the form, as a person would.
func signIn(t *testing.T, tab context.Context, base, token string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Navigate(base+"/admin")); err != nil {
		t.Fatal(err)
	}
	bt.WaitJS(t, tab, "sign-in form", `!document.getElementById('login').hidden`, 15*time.Second)
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("login-submit")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
}

func click(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Click(sel)); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

// noPageErrors fails on exceptions and CSP violations the page reported
// (refused requests, 401/403 answers, are logged by the browser and fine).
func noPageErrors(t *testing.T, b *bt.Browser) {
	t.Helper()
	for _, p := range b.Problems() {
		if strings.Contains(p, "exception") || strings.Contains(p, "Content Security Policy") || strings.Contains(p, "Refused to") {
			t.Errorf("browser reported: %s", p)
		} else {
			t.Logf("browser log: %s", p)
		}
	}
}

// TestBrowserFailedJobRetryLive: sign in (a wrong token first), find the
// failed job from the overview, read its failure reason and the stack
// trace of each attempt, retry it, and watch it complete on its page with
// no reload: the new state arrives through the events stream (the job
// page does not poll).
func TestBrowserFailedJobRetryLive(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	var failing atomic.Bool
	failing.Store(true)
	b.worker("payments", func(ctx context.Context, j *queue.Job) (any, error) {
		if failing.Load() {
			return nil, errors.New("card declined: the gateway said no")
		}
		return map[string]any{"charged": 42}, nil
	})
	q := b.queue("payments")
	j, err := q.Add(ctx, "charge", map[string]any{"order": "A-17"}, &queue.AddOptions{Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "job failed twice", 30*time.Second, func() bool {
		st, _ := q.GetState(ctx, j.ID)
		return st == queue.StateFailed
	})
	// A second queue with waiting jobs, as Node programs would leave them.
	other := b.queue("emails")
	for i := 0; i < 3; i++ {
		if _, err := other.Add(ctx, "send", map[string]any{"n": i}, nil); err != nil {
			t.Fatal(err)
		}
	}

	br := bt.Start(t, &bt.Options{Timeout: 120 * time.Second})
	tab := br.Ctx
	shots := shotDir(t)

	signIn(t, tab, b.ts.URL, "not-the-token")
	bt.WaitJS(t, tab, "wrong token refused", `document.getElementById('login-msg').textContent.includes('401')`, 15*time.Second)
	if err := chromedp.Do(tab, chromedp.Clear(chromedp.ID("token"))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.ID("token"), testToken), chromedp.Click(chromedp.ID("login-submit"))); err != nil {
		t.Fatal(err)
	}
	bt.WaitJS(t, tab, "overview row", `(document.querySelector('tr[data-queue="payments"] [data-col="failed"]') || {}).textContent === '1'`, 20*time.Second)
	bt.WaitJS(t, tab, "other queue", `(document.querySelector('tr[data-queue="emails"] [data-col="waiting"]') || {}).textContent === '3'`, 10*time.Second)
	if got := bt.Eval[string](t, tab, `document.querySelector('tr[data-queue="payments"] [data-col="workers"]').textContent`); got != "1" {
		t.Errorf("workers of payments = %q, want 1", got)
	}
	// The session cookie is HttpOnly: the page's script cannot read it.
	if got := bt.Eval[string](t, tab, `document.cookie`); got != "" {
		t.Errorf("document.cookie = %q", got)
	}
	bt.Screenshot(t, tab, filepath.Join(shots, "dashboard-overview.png"))

	// Overview → the failed list of payments → the job.
	click(t, tab, `tr[data-queue="payments"] [data-col="failed"] a`)
	bt.WaitJS(t, tab, "failed list", `!!document.querySelector('#jobs-body tr[data-job="`+j.ID+`"]')`, 15*time.Second)
	if got := bt.Eval[string](t, tab, `document.querySelector('#jobs-body tr[data-job="`+j.ID+`"] .reason').textContent`); !strings.Contains(got, "card declined") {
		t.Errorf("failed reason in the list: %q", got)
	}
	bt.WaitJS(t, tab, "live on the queue", `document.getElementById('live').dataset.live === 'on'`, 15*time.Second)
	bt.Screenshot(t, tab, filepath.Join(shots, "dashboard-queue-failed.png"))
	click(t, tab, `#jobs-body tr[data-job="`+j.ID+`"] a`)
	bt.WaitJS(t, tab, "job page failed", `document.getElementById('job-state').dataset.state === 'failed' && !document.getElementById('job-failure').hidden`, 15*time.Second)
	if got := bt.Eval[string](t, tab, `document.getElementById('job-failed-reason').textContent`); got != "card declined: the gateway said no" {
		t.Errorf("failure reason %q", got)
	}
	if n := bt.Eval[int](t, tab, `document.querySelectorAll('#job-stack li').length`); n != 2 {
		t.Errorf("%d stack traces, want one per attempt (2)", n)
	}
	stack := bt.Eval[string](t, tab, `document.querySelector('#job-stack li:last-child pre').textContent`)
	if !strings.HasPrefix(stack, "Error: card declined") || !strings.Contains(stack, "    at ") {
		t.Errorf("stack trace:\n%s", stack)
	}
	if got := bt.Eval[string](t, tab, `document.getElementById('job-data').textContent`); !strings.Contains(got, `"order": "A-17"`) {
		t.Errorf("job data: %q", got)
	}
	bt.Screenshot(t, tab, filepath.Join(shots, "dashboard-job-failed.png"))

	// Retry, and watch it finish live.
	failing.Store(false)
	bt.Eval[bool](t, tab, `window.__sameDocument = true`)
	events := bt.Eval[int](t, tab, `Number(document.body.dataset.events || 0)`)
	click(t, tab, "#job-retry")
	bt.WaitJS(t, tab, "job completed live", `document.getElementById('job-state').dataset.state === 'completed'`, 30*time.Second)
	bt.WaitJS(t, tab, "return value shown", `document.getElementById('job-return').textContent.includes('"charged": 42')`, 10*time.Second)
	if !bt.Eval[bool](t, tab, `window.__sameDocument === true`) {
		t.Error("the page reloaded")
	}
	if got := bt.Eval[int](t, tab, `Number(document.body.dataset.events || 0)`); got <= events {
		t.Errorf("no event arrived through the events stream (%d before, %d after)", events, got)
	}
	if st, _ := q.GetState(ctx, j.ID); st != queue.StateCompleted {
		t.Errorf("job state in Redis: %s", st)
	}
	bt.Screenshot(t, tab, filepath.Join(shots, "dashboard-job-completed.png"))

	// Remove asks first: Cancel keeps the job, Confirm removes it and goes
	// back to the queue.
	click(t, tab, "#job-remove")
	bt.WaitJS(t, tab, "confirmation open", `document.getElementById('confirm').open`, 10*time.Second)
	click(t, tab, "#confirm-cancel")
	bt.WaitJS(t, tab, "confirmation closed", `!document.getElementById('confirm').open`, 10*time.Second)
	if _, err := q.GetJob(ctx, j.ID); err != nil {
		t.Fatalf("cancelled remove removed the job: %v", err)
	}
	click(t, tab, "#job-remove")
	bt.WaitJS(t, tab, "confirmation open again", `document.getElementById('confirm').open`, 10*time.Second)
	click(t, tab, "#confirm-ok")
	bt.WaitJS(t, tab, "back on the queue", `!document.getElementById('view-queue').hidden`, 15*time.Second)
	eventually(t, "job removed", 10*time.Second, func() bool { _, err := q.GetJob(ctx, j.ID); return errors.Is(err, queue.ErrJobNotFound) })

	// The Redis panel.
	if err := chromedp.Do(tab, chromedp.Navigate(b.ts.URL+"/admin#/redis")); err != nil {
		t.Fatal(err)
	}
	bt.WaitJS(t, tab, "Redis panel", `document.querySelectorAll('#redis-nodes .node').length === 1`, 15*time.Second)
	panel := bt.Eval[string](t, tab, `document.getElementById('redis-nodes').innerText`)
	for _, want := range []string{"master", "Ops/s", "noeviction", "ms"} {
		if !strings.Contains(panel, want) {
			t.Errorf("Redis panel lacks %q:\n%s", want, panel)
		}
	}
	bt.Screenshot(t, tab, filepath.Join(shots, "dashboard-redis.png"))
	noPageErrors(t, br)
}

// TestBrowserForgedPostRefused: a page on another origin that the signed-in
// admin visits posts a form to the pause endpoint (the browser sends the
// session cookie: both sites are 127.0.0.1) and fires a no-cors fetch; both
// are refused and the queue stays unpaused, while the dashboard's own
// pause button works.
func TestBrowserForgedPostRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	q := b.queue("mail")
	if _, err := q.Add(ctx, "x", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	target := b.ts.URL + dashboard.APIPath + "/queues/mail/pause"
	var hits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>cute cats</title>
<form id="f" method="POST" action="%s"><input name="csrf" value="guess"></form>
<script>fetch(%q, {method: 'POST', mode: 'no-cors', credentials: 'include'}).finally(function () { document.getElementById('f').submit(); });</script>`, target, target)
	}))
	t.Cleanup(evil.Close)

	br := bt.Start(t, &bt.Options{Timeout: 90 * time.Second})
	tab := br.Ctx
	signIn(t, tab, b.ts.URL, testToken)
	bt.WaitJS(t, tab, "signed in", `!!document.querySelector('tr[data-queue="mail"]')`, 20*time.Second)

	if err := chromedp.Do(tab, chromedp.Navigate(evil.URL)); err != nil {
		t.Fatal(err)
	}
	// The form navigates the tab: poll across the navigation.
	eventually(t, "forged form answered", 20*time.Second, func() bool {
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](`location.href.indexOf('/admin/api/queues/mail/pause') >= 0 && document.body.innerText.includes('cross-site request refused')`))
		return err == nil && ok
	})
	if hits.Load() == 0 {
		t.Fatal("the forging page was never served")
	}
	if p, _ := q.IsPaused(ctx); p {
		t.Fatal("a forged cross-site POST paused the queue")
	}

	// The page itself can.
	if err := chromedp.Do(tab, chromedp.Navigate(b.ts.URL+"/admin#/q/mail/waiting")); err != nil {
		t.Fatal(err)
	}
	bt.WaitJS(t, tab, "queue view", `document.getElementById('q-pause').dataset.action === 'pause'`, 20*time.Second)
	click(t, tab, "#q-pause")
	eventually(t, "queue paused from the page", 20*time.Second, func() bool { p, _ := q.IsPaused(ctx); return p })
	bt.WaitJS(t, tab, "shown paused", `document.getElementById('q-pause').dataset.action === 'resume'`, 20*time.Second)
	noPageErrors(t, br)
}

// TestBrowserSignOutSticks: after "Sign out" the page asks for the token,
// a reload stays signed out, and the session is gone from Redis.
func TestBrowserSignOutSticks(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	br := bt.Start(t, &bt.Options{Timeout: 90 * time.Second})
	tab := br.Ctx
	signIn(t, tab, b.ts.URL, testToken)
	bt.WaitJS(t, tab, "signed in", `!document.getElementById('signout').hidden && document.getElementById('login').hidden`, 20*time.Second)
	keys := func() int {
		ks, err := b.rc.Keys(context.Background(), "zyeute:session:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return len(ks)
	}
	if keys() != 1 {
		t.Fatalf("%d sessions in Redis after sign-in", keys())
	}
	click(t, tab, "#signout")
	bt.WaitJS(t, tab, "signed out", `!document.getElementById('login').hidden && document.getElementById('login-msg').textContent.includes('Signed out')`, 20*time.Second)
	if keys() != 0 {
		t.Errorf("%d sessions left in Redis after sign-out", keys())
	}
	if err := chromedp.Do(tab, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	bt.WaitJS(t, tab, "still signed out after reload", `!document.getElementById('login').hidden && document.getElementById('view-overview').hidden`, 20*time.Second)
	noPageErrors(t, br)
}

// TestBrowserSessionExpiry: a page left open (it keeps polling) reaches
// the idle timeout and asks to sign in again, saying the session expired.
func TestBrowserSessionExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *dashboard.Options) { o.IdleTimeout = 3 * time.Second })
	br := bt.Start(t, &bt.Options{Timeout: 90 * time.Second})
	tab := br.Ctx
	start := time.Now() // the session's last use is after this
	signIn(t, tab, b.ts.URL, testToken)
	bt.WaitJS(t, tab, "signed in", `!document.getElementById('signout').hidden`, 20*time.Second)
	bt.WaitJS(t, tab, "expired", `!document.getElementById('login').hidden && document.getElementById('login-msg').textContent.includes('Session expired')`, 30*time.Second)
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("expired %s after sign-in, before the 3s idle timeout", d)
	}
	noPageErrors(t, br)
}

// TestBrowserPhoneKeyboard: on a phone-sized screen the page signs in with
// the keyboard alone (focus starts in the token field, Enter submits) and
// no view is wider than the screen (wide tables scroll inside their card).
func TestBrowserPhoneKeyboard(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	q := b.queue("video-enhancement")
	j, err := q.Add(ctx, "enhance", map[string]any{"url": "https://cdn.example/v.mp4"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	br := bt.Start(t, &bt.Options{Timeout: 90 * time.Second, Width: 390, Height: 844})
	tab := br.Ctx
	if err := chromedp.Do(tab, chromedp.Navigate(b.ts.URL+"/admin")); err != nil {
		t.Fatal(err)
	}
	bt.WaitJS(t, tab, "focus in the token field", `document.activeElement && document.activeElement.id === 'token'`, 15*time.Second)
	if err := chromedp.Do(tab, chromedp.KeyEvent(testToken+"\r")); err != nil {
		t.Fatal(err)
	}
	bt.WaitJS(t, tab, "signed in", `!!document.querySelector('tr[data-queue="video-enhancement"]')`, 20*time.Second)
	fits := `document.documentElement.scrollWidth <= window.innerWidth + 1`
	if !bt.Eval[bool](t, tab, fits) {
		t.Errorf("overview is %d px wide on a %d px screen", bt.Eval[int](t, tab, `document.documentElement.scrollWidth`), bt.Eval[int](t, tab, `window.innerWidth`))
	}
	bt.Screenshot(t, tab, filepath.Join(shotDir(t), "dashboard-phone.png"))
	if err := chromedp.Do(tab, chromedp.Navigate(b.ts.URL+"/admin#/q/video-enhancement/job/"+j.ID)); err != nil {
		t.Fatal(err)
	}
	bt.WaitJS(t, tab, "job page", `document.getElementById('job-state').dataset.state === 'waiting'`, 20*time.Second)
	if !bt.Eval[bool](t, tab, fits) {
		t.Errorf("job page is %d px wide on a %d px screen", bt.Eval[int](t, tab, `document.documentElement.scrollWidth`), bt.Eval[int](t, tab, `window.innerWidth`))
	}
	noPageErrors(t, br)
}
