package analytics

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/store"
	"github.com/zyeute/zyeute-redis/internal/store/storetest"
)

var clock = func() time.Time { return time.Date(2026, 11, 29, 15, 0, 0, 0, time.UTC) }

func registry(t *testing.T, st *store.Store) *jobs.Registry {
	t.Helper()
	reg, err := jobs.NewRegistry(&jobs.RegistryConfig{Now: clock, Handlers: jobs.Handlers{Analytics: &Aggregator{Store: st, Now: clock}}})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// A job delivered twice (at-least-once) counts once, with and without
// event ids; GET /api/analytics/videos/{id} reads the rollups back.
func TestAnalyticsJobPersistsIdempotently(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		spec, err := registry(t, st).Spec(jobs.Analytics)
		if err != nil {
			t.Fatal(err)
		}
		payload := json.RawMessage(`{"events":[
			{"type":"view","video_id":"vid-1","user_id":"alice","watch_ms":1200,"at":"2026-11-27T10:00:00Z"},
			{"type":"view","video_id":"vid-1","user_id":"bob","watch_ms":800,"at":"2026-11-27T11:00:00Z"},
			{"type":"like","video_id":"vid-1","user_id":"bob","at":"2026-11-27T11:00:01Z"},
			{"type":"view","video_id":"vid-1","user_id":"alice","watch_ms":100},
			{"type":"share","video_id":"vid-2"}]}`)
		for i, want := range []jobs.AnalyticsPersisted{{Applied: 5, Backend: st.Backend()}, {Duplicates: 5, Backend: st.Backend()}} {
			res, err := spec.Run(context.Background(), payload)
			if err != nil {
				t.Fatal(err)
			}
			sum := res.(*jobs.AnalyticsSummary)
			if sum.Persisted == nil || *sum.Persisted != want || sum.Aggregator != "database" {
				t.Fatalf("run %d: persisted %+v, want %+v", i+1, sum.Persisted, want)
			}
		}
		withIDs := json.RawMessage(`{"events":[{"id":"ev-1","type":"comment","video_id":"vid-1","at":"2026-11-28T00:00:00Z"},
			{"id":"ev-2","type":"view","video_id":"vid-1","user_id":"carol","at":"2026-11-28T00:00:00Z"}]}`)
		for range 2 {
			if _, err := spec.Run(context.Background(), withIDs); err != nil {
				t.Fatal(err)
			}
		}
		// The same ids in another batch: still counted once.
		if res, err := spec.Run(context.Background(), json.RawMessage(`{"events":[{"id":"ev-1","type":"comment","video_id":"vid-1"}]}`)); err != nil {
			t.Fatal(err)
		} else if p := res.(*jobs.AnalyticsSummary).Persisted; p.Duplicates != 1 || p.Applied != 0 {
			t.Fatalf("resent id: %+v", p)
		}

		mux := http.NewServeMux()
		for _, r := range Routes(st, nil, clock) {
			mux.Handle(r.Pattern, r.Handler)
		}
		srv := httptest.NewServer(mux)
		defer srv.Close()
		get := func(path string) (int, string) {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		code, body := get("/api/analytics/videos/vid-1?from=2026-11-27&to=2026-11-29")
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		var got store.VideoStats
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		want := []store.DayCounts{
			{Day: "2026-11-27", Counts: store.Counts{Views: 2, Likes: 1, WatchMS: 2000, UniqueViewers: 2}},
			{Day: "2026-11-28", Counts: store.Counts{Views: 1, Comments: 1, UniqueViewers: 1}},
			{Day: "2026-11-29", Counts: store.Counts{Views: 1, WatchMS: 100, UniqueViewers: 1}}, // no "at": the job's clock
		}
		if len(got.Days) != 3 || got.Days[0] != want[0] || got.Days[1] != want[1] || got.Days[2] != want[2] {
			t.Fatalf("days %+v\nwant %+v", got.Days, want)
		}
		if got.Totals != (store.Counts{Views: 4, Likes: 1, Comments: 1, WatchMS: 2100, UniqueViewers: 3}) || got.UniqueViewers != "exact" {
			t.Fatalf("totals %+v (%s)", got.Totals, got.UniqueViewers)
		}
		code, body = get("/api/analytics/videos/vid-1")
		if code != 200 || !strings.Contains(body, `"from":"2026-10-31","to":"2026-11-29"`) {
			t.Fatalf("default range: %d %s", code, body)
		}
		for path, msg := range map[string]string{
			"/api/analytics/videos/vid-1?from=2026-13-01":               "from must be a date",
			"/api/analytics/videos/vid-1?from=2026-11-29&to=2026-11-01": "is before from",
			"/api/analytics/videos/vid-1?from=2020-01-01&to=2026-01-01": "limit 400",
			"/api/analytics/videos/bad%20id":                            "may only contain",
		} {
			if code, body := get(path); code != 400 || !strings.Contains(body, msg) {
				t.Errorf("%s: %d %s (want 400 %q)", path, code, body, msg)
			}
		}
	})
}

// BenchmarkApplyEvents measures analytics events/s into each backend
// (batches of 1000 events across 50 videos and 200 users, all new).
func BenchmarkApplyEvents(b *testing.B) {
	for _, bk := range []struct {
		name string
		open func(testing.TB) *store.Store
	}{{store.SQLite, storetest.OpenSQLite}, {store.Postgres, storetest.OpenPostgres}} {
		b.Run(bk.name, func(b *testing.B) {
			st := bk.open(b)
			a := &Aggregator{Store: st, Now: clock}
			at := clock().Add(-time.Hour)
			n := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				batch := &jobs.AnalyticsBatch{Events: make([]jobs.AnalyticsEvent, 1000)}
				for j := range batch.Events {
					n++
					batch.Events[j] = jobs.AnalyticsEvent{ID: "b" + itoa(n), Type: "view", VideoID: "v" + itoa(n%50), UserID: "u" + itoa(n%200), WatchMS: 1000, At: &at}
				}
				if _, err := a.Aggregate(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
