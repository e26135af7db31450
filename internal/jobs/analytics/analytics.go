// Package analytics is the database-backed analytics queue: a batch of
// engagement events becomes per-video, per-day rollups (counts, watch
// time, unique viewers) in the application store, applied idempotently,
// and GET /api/analytics/videos/{id} reads them back.
package analytics

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/zyeute/zyeute-redis/httpjson"
	"github.com/zyeute/zyeute-redis/internal/httpapi"
	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/store"
)

// Aggregator implements jobs.AnalyticsAggregator on the store.
type Aggregator struct {
	Store *store.Store
	// Now stamps events without "at". Defaults to time.Now.
	Now func() time.Time
}

var _ jobs.AnalyticsAggregator = (*Aggregator)(nil)

// Aggregate sums the batch (as the local aggregator does) and stores its
// events and rollups in one transaction. Events keep their "id"; events
// without one get "batch:<sha256 of the batch>:<index>", so a retried job
// (same payload) is counted once.
func (a *Aggregator) Aggregate(ctx context.Context, b *jobs.AnalyticsBatch) (*jobs.AnalyticsSummary, error) {
	sum, err := jobs.LocalAnalyticsAggregator{}.Aggregate(ctx, b)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(raw)
	batchID := hex.EncodeToString(h[:16])
	at := now().UTC()
	events := make([]store.Event, len(b.Events))
	for i, e := range b.Events {
		ev := store.Event{ID: e.ID, Type: e.Type, VideoID: e.VideoID, UserID: e.UserID, WatchMS: e.WatchMS, At: at}
		if ev.ID == "" {
			ev.ID = fmt.Sprintf("batch:%s:%d", batchID, i)
		}
		if e.At != nil {
			ev.At = e.At.UTC()
		}
		events[i] = ev
	}
	res, err := a.Store.ApplyEvents(ctx, events)
	if err != nil {
		return nil, fmt.Errorf("analytics: storing %d events: %w", len(events), err)
	}
	sum.Aggregator = "database"
	sum.Persisted = &jobs.AnalyticsPersisted{Applied: res.Applied, Duplicates: res.Duplicates, Backend: a.Store.Backend()}
	return sum, nil
}

// DefaultDays is the range GET /api/analytics/videos/{id} covers without
// "from": the 30 days ending at "to" (today by default).
const DefaultDays = 30

// Routes is GET /api/analytics/videos/{id}?from=YYYY-MM-DD&to=YYYY-MM-DD:
// the video's daily series (every day of the range, zeros included) and
// totals. A Service route (JOBS_API_TOKEN, ADMIN_TOKEN or loopback).
func Routes(st *store.Store, logger *slog.Logger, now func() time.Time) []httpapi.Route {
	if now == nil {
		now = time.Now
	}
	return []httpapi.Route{{Pattern: "GET /api/analytics/videos/{id}", Service: true,
		Handler: httpapi.Handle(logger, func(w http.ResponseWriter, r *http.Request) error {
			id := r.PathValue("id")
			if err := jobs.CheckID("id", id); err != nil {
				return httpapi.Errorf(http.StatusBadRequest, "analytics: video %v", trimErr(err))
			}
			q := r.URL.Query()
			to := q.Get("to")
			if to == "" {
				to = store.Day(now())
			}
			tt, err := time.Parse(time.DateOnly, to)
			if err != nil {
				return httpapi.Errorf(http.StatusBadRequest, "analytics: to must be a date YYYY-MM-DD")
			}
			from := q.Get("from")
			if from == "" {
				from = tt.AddDate(0, 0, 1-DefaultDays).Format(time.DateOnly)
			}
			ft, err := time.Parse(time.DateOnly, from)
			if err != nil {
				return httpapi.Errorf(http.StatusBadRequest, "analytics: from must be a date YYYY-MM-DD")
			}
			if tt.Before(ft) {
				return httpapi.Errorf(http.StatusBadRequest, "analytics: to (%s) is before from (%s)", to, from)
			}
			if n := int(tt.Sub(ft).Hours()/24) + 1; n > store.MaxStatsDays {
				return httpapi.Errorf(http.StatusBadRequest, "analytics: the range covers %d days, limit %d", n, store.MaxStatsDays)
			}
			stats, err := st.VideoStats(r.Context(), id, from, to)
			if err != nil {
				return &httpapi.Error{Status: http.StatusServiceUnavailable, Message: "analytics: the database did not answer; try again", Err: err}
			}
			httpjson.Write(w, http.StatusOK, stats)
			return nil
		})}}
}

func trimErr(err error) string {
	if ve, ok := err.(*jobs.ValidationError); ok {
		return ve.Reason
	}
	return err.Error()
}
