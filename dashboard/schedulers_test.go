package dashboard_test

import (
	"context"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/dashboard"
	"github.com/zyeute/zyeute-redis/queue"
)

// goSchedulers creates, with Go's Queue.UpsertJobScheduler, an "every
// hour" scheduler (its first iteration is due now) and a nightly cron one
// with a time zone and a limit, in queue name.
func (b *bundle) goSchedulers(name string) *queue.Queue {
	b.t.Helper()
	ctx := context.Background()
	q := b.queue(name)
	if _, err := q.UpsertJobScheduler(ctx, "hourly", queue.RepeatOptions{Every: time.Hour},
		&queue.JobTemplate{Name: "digest", Data: map[string]any{"kind": "hourly"}}); err != nil {
		b.t.Fatal(err)
	}
	if _, err := q.UpsertJobScheduler(ctx, "nightly", queue.RepeatOptions{Pattern: "0 0 3 * * *", TZ: "America/Montreal", Limit: 5}, nil); err != nil {
		b.t.Fatal(err)
	}
	return q
}

// TestSchedulersAPI: the queue's job schedulers made by Go are listed
// read-only, soonest next run first, with what they repeat on, their next
// run and iteration count as stored.
func TestSchedulersAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	q := b.goSchedulers("reports")
	resp, body := b.req("GET", dashboard.APIPath+"/queues/reports/schedulers", bearer, "")
	if resp.StatusCode != 200 || body["total"] != float64(2) {
		t.Fatalf("schedulers: %d %v", resp.StatusCode, body)
	}
	rows := body["schedulers"].([]any)
	if len(rows) != 2 {
		t.Fatalf("rows: %v", rows)
	}
	hourly, nightly := rows[0].(map[string]any), rows[1].(map[string]any)
	if hourly["id"] != "hourly" || nightly["id"] != "nightly" {
		t.Fatalf("order (soonest next run first): %v", rows)
	}
	if hourly["every_ms"] != float64(3600000) || hourly["name"] != "digest" || hourly["pattern"] != nil {
		t.Errorf("hourly: %v", hourly)
	}
	if nightly["pattern"] != "0 0 3 * * *" || nightly["tz"] != "America/Montreal" || nightly["limit"] != float64(5) || nightly["every_ms"] != nil {
		t.Errorf("nightly: %v", nightly)
	}
	for _, row := range []map[string]any{hourly, nightly} {
		js, err := q.GetJobScheduler(ctx, row["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if row["next"] != float64(js.Next) || row["iteration_count"] != float64(js.IterationCount) || js.Next <= 0 {
			t.Errorf("%s: next %v ic %v, stored next %d ic %d", js.ID, row["next"], row["iteration_count"], js.Next, js.IterationCount)
		}
	}
	// Next run of the nightly one is a 3 a.m. in Montréal.
	next := time.UnixMilli(int64(nightly["next"].(float64)))
	if mtl, err := time.LoadLocation("America/Montreal"); err == nil && next.In(mtl).Hour() != 3 {
		t.Errorf("nightly next run %s is not 3 a.m. in Montréal", next.In(mtl))
	}

	// A queue without schedulers lists none.
	if _, err := b.queue("plain").Add(ctx, "x", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	resp, body = b.req("GET", dashboard.APIPath+"/queues/plain/schedulers", bearer, "")
	if resp.StatusCode != 200 || body["total"] != float64(0) || len(body["schedulers"].([]any)) != 0 {
		t.Errorf("plain: %d %v", resp.StatusCode, body)
	}
}
