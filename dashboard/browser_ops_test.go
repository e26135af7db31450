package dashboard_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	bt "github.com/zyeute/zyeute-redis/internal/browsertest"
	"github.com/zyeute/zyeute-redis/queue"
)

// TestBrowserQueueOps drives the queue and job views in a real browser:
// "Clean completed" asks first, then the completed count drops to 0; a
// flow parent made by Go's FlowProducer lists its pending children as
// links, and a child's page links back to the parent; the job schedulers
// made by Go show in their queue's view.
func TestBrowserQueueOps(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	q := b.queue("thumbs")
	b.worker("thumbs", func(ctx context.Context, j *queue.Job) (any, error) { return "ok", nil })
	for i := 0; i < 3; i++ {
		if _, err := q.Add(ctx, "resize", map[string]any{"n": i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "3 completed", 30*time.Second, func() bool { c, _ := q.Counts(ctx); return c.Completed == 3 })
	parentID, kids := b.goFlow("orders", "parts", 2)
	b.goSchedulers("reports")

	br := bt.Start(t, &bt.Options{Timeout: 120 * time.Second})
	tab := br.Ctx
	signIn(t, tab, b.ts.URL, testToken)
	bt.WaitJS(t, tab, "signed in", `!!document.querySelector('tr[data-queue="thumbs"]')`, 20*time.Second)

	// Clean completed: Cancel keeps the jobs, Confirm removes them.
	if err := chromedp.Do(tab, chromedp.Navigate(b.ts.URL+"/admin#/q/thumbs/completed")); err != nil {
		t.Fatal(err)
	}
	completedTab := `(document.querySelector('#state-tabs [data-state="completed"]') || {}).textContent || ''`
	bt.WaitJS(t, tab, "3 completed listed", `document.querySelectorAll('#jobs-body tr').length === 3 && (`+completedTab+`).endsWith('(3)') && !document.getElementById('bulk-clean').hidden`, 20*time.Second)
	click(t, tab, "#bulk-clean")
	bt.WaitJS(t, tab, "confirmation open", `document.getElementById('confirm').open && document.getElementById('confirm-msg').textContent.includes('thumbs')`, 10*time.Second)
	click(t, tab, "#confirm-cancel")
	bt.WaitJS(t, tab, "confirmation closed", `!document.getElementById('confirm').open`, 10*time.Second)
	if c, _ := q.Counts(ctx); c.Completed != 3 {
		t.Fatalf("cancelled clean removed jobs: %+v", c)
	}
	click(t, tab, "#bulk-clean")
	bt.WaitJS(t, tab, "confirmation open again", `document.getElementById('confirm').open`, 10*time.Second)
	click(t, tab, "#confirm-ok")
	bt.WaitJS(t, tab, "completed count 0", `(`+completedTab+`).endsWith('(0)') && document.querySelectorAll('#jobs-body tr').length === 0`, 20*time.Second)
	if c, _ := q.Counts(ctx); c.Completed != 0 {
		t.Errorf("after clean from the page: %+v", c)
	}

	// Job schedulers, read-only, in the queue view; none on a queue without.
	if err := chromedp.Do(tab, chromedp.Navigate(b.ts.URL+"/admin#/q/reports/delayed")); err != nil {
		t.Fatal(err)
	}
	bt.WaitJS(t, tab, "schedulers listed", `!document.getElementById('schedulers').hidden && document.querySelectorAll('#sched-body tr').length === 2`, 20*time.Second)
	for sel, want := range map[string]string{
		`tr[data-scheduler="hourly"] [data-col="repeat"]`:      "every 1 h",
		`tr[data-scheduler="hourly"] [data-col="name"]`:        "digest",
		`tr[data-scheduler="nightly"] [data-col="repeat"]`:     "cron « 0 0 3 * * * » (America/Montreal)",
		`tr[data-scheduler="nightly"] [data-col="iterations"]`: " / 5",
		`tr[data-scheduler="nightly"] [data-col="next"]`:       "dans / in",
	} {
		if got := bt.Eval[string](t, tab, `document.querySelector('#sched-body `+sel+`').textContent`); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want it to contain %q", sel, got, want)
		}
	}
	bt.Screenshot(t, tab, filepath.Join(shotDir(t), "dashboard-queue-schedulers.png"))
	if err := chromedp.Do(tab, chromedp.Navigate(b.ts.URL+"/admin#/q/thumbs/waiting")); err != nil {
		t.Fatal(err)
	}
	bt.WaitJS(t, tab, "no schedulers on thumbs", `document.getElementById('schedulers').dataset.queue === 'thumbs' && document.getElementById('schedulers').hidden`, 20*time.Second)

	// A flow parent: its pending children, as links to their pages.
	if err := chromedp.Do(tab, chromedp.Navigate(b.ts.URL+"/admin#/q/orders/job/"+parentID)); err != nil {
		t.Fatal(err)
	}
	bt.WaitJS(t, tab, "pending children listed", `document.getElementById('job-state').dataset.state === 'waiting-children' && document.querySelectorAll('#job-pending li a').length === 2 && !document.getElementById('job-pending-box').hidden`, 20*time.Second)
	if !bt.Eval[bool](t, tab, `document.getElementById('job-children-box').hidden && document.getElementById('job-pending-more').hidden`) {
		t.Error("processed children or a More button shown for a parent with 2 pending children")
	}
	bt.Screenshot(t, tab, filepath.Join(shotDir(t), "dashboard-flow-parent.png"))
	click(t, tab, `#job-pending li[data-child="`+b.prefix+`:parts:`+kids[0]+`"] a`)
	bt.WaitJS(t, tab, "child page", `location.hash === '#/q/parts/job/`+kids[0]+`' && document.getElementById('job-state').dataset.state === 'waiting'`, 20*time.Second)
	bt.WaitJS(t, tab, "parent link", `!!document.querySelector('#job-parent a[href="#/q/orders/job/`+parentID+`"]')`, 10*time.Second)
	noPageErrors(t, br)
}
