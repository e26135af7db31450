package dashboard_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	bt "github.com/zyeute/zyeute-redis/internal/browsertest"
	"github.com/zyeute/zyeute-redis/queue"
)

// TestBrowserQueueOps drives the queue and job views in a real browser:
// "Clean completed" asks first, then the completed count drops to 0.
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
	noPageErrors(t, br)
}
