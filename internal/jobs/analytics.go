package jobs

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// MaxAnalyticsEvents bounds one analytics batch.
const MaxAnalyticsEvents = 1000

// AnalyticsEvent is one engagement event.
type AnalyticsEvent struct {
	// ID is the event's idempotency key (optional, recommended): an event
	// whose id was already stored is not counted again. Without it, a
	// database-backed aggregator derives one from the batch's content and
	// the event's position, so a resent identical batch counts once.
	ID string `json:"id,omitempty"`
	// Type is "view", "like", "share" or "comment" (required).
	Type string `json:"type"`
	// VideoID the event is about (required).
	VideoID string `json:"video_id"`
	// UserID who did it (optional; anonymous views have none).
	UserID string `json:"user_id,omitempty"`
	// WatchMS is the watch time of a view, 0–86 400 000 (views only).
	WatchMS int64 `json:"watch_ms,omitempty"`
	// At is when it happened (optional, RFC 3339, from 2000-01-01 to 24
	// hours from now).
	At *time.Time `json:"at,omitempty"`
}

// AnalyticsBatch is the payload of the analytics queue.
type AnalyticsBatch struct {
	// Events, 1–1000 of them.
	Events []AnalyticsEvent `json:"events"`
}

// VideoCounters are the per-video counters of a batch.
type VideoCounters struct {
	VideoID  string `json:"video_id"`
	Views    int64  `json:"views"`
	Likes    int64  `json:"likes"`
	Shares   int64  `json:"shares"`
	Comments int64  `json:"comments"`
	WatchMS  int64  `json:"watch_ms"`
}

// AnalyticsSummary is what a batch adds up to.
type AnalyticsSummary struct {
	Events      int              `json:"events"`
	ByType      map[string]int64 `json:"by_type"`
	Videos      []VideoCounters  `json:"videos"` // sorted by video_id
	UniqueUsers int              `json:"unique_users"`
	WatchMS     int64            `json:"watch_ms"`
	From        *time.Time       `json:"from,omitempty"` // earliest At
	To          *time.Time       `json:"to,omitempty"`   // latest At
	// Aggregator names the implementation ("local", "database").
	Aggregator string `json:"aggregator"`
	// Persisted says what a database-backed aggregator stored; nil when
	// nothing is stored (the local aggregator).
	Persisted *AnalyticsPersisted `json:"persisted,omitempty"`
}

// AnalyticsPersisted is what a batch changed in the database.
type AnalyticsPersisted struct {
	// Applied events were new and added to the rollups; Duplicates had
	// been stored before (a retried job) and were not counted again.
	Applied    int    `json:"applied"`
	Duplicates int    `json:"duplicates"`
	Backend    string `json:"backend"` // "postgres" or "sqlite"
}

// AnalyticsAggregator does the work of an analytics job.
type AnalyticsAggregator interface {
	Aggregate(ctx context.Context, batch *AnalyticsBatch) (*AnalyticsSummary, error)
}

// LocalAnalyticsAggregator adds a batch up into counters and returns them;
// it stores nothing. A production deployment plugs in the analytics
// pipeline (warehouse loader or counter store) that persists the same
// counters idempotently (keyed by job id, since a job can run twice).
type LocalAnalyticsAggregator struct{}

// Aggregate implements AnalyticsAggregator.
func (LocalAnalyticsAggregator) Aggregate(ctx context.Context, b *AnalyticsBatch) (*AnalyticsSummary, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &AnalyticsSummary{Events: len(b.Events), ByType: map[string]int64{}, Aggregator: "local"}
	videos := map[string]*VideoCounters{}
	users := map[string]struct{}{}
	for _, e := range b.Events {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.ByType[e.Type]++
		v := videos[e.VideoID]
		if v == nil {
			v = &VideoCounters{VideoID: e.VideoID}
			videos[e.VideoID] = v
		}
		switch e.Type {
		case "view":
			v.Views++
			v.WatchMS += e.WatchMS
			s.WatchMS += e.WatchMS
		case "like":
			v.Likes++
		case "share":
			v.Shares++
		case "comment":
			v.Comments++
		}
		if e.UserID != "" {
			users[e.UserID] = struct{}{}
		}
		if e.At != nil {
			at := e.At.UTC()
			if s.From == nil || at.Before(*s.From) {
				s.From = &at
			}
			if s.To == nil || at.After(*s.To) {
				t := at
				s.To = &t
			}
		}
	}
	s.UniqueUsers = len(users)
	s.Videos = make([]VideoCounters, 0, len(videos))
	for _, v := range videos {
		s.Videos = append(s.Videos, *v)
	}
	sort.Slice(s.Videos, func(i, j int) bool { return s.Videos[i].VideoID < s.Videos[j].VideoID })
	return s, nil
}

func checkAnalytics(b *AnalyticsBatch, now time.Time) error {
	if len(b.Events) == 0 {
		return fieldError("events", "is required (1 to %d events)", MaxAnalyticsEvents)
	}
	if len(b.Events) > MaxAnalyticsEvents {
		return fieldError("events", "has %d events, limit %d per job", len(b.Events), MaxAnalyticsEvents)
	}
	for i, e := range b.Events {
		f := func(name string) string { return fmt.Sprintf("events[%d].%s", i, name) }
		if err := checkID(f("id"), e.ID, false); err != nil {
			return err
		}
		if err := oneOf(f("type"), e.Type, "view", "like", "share", "comment"); err != nil {
			return err
		}
		if err := checkID(f("video_id"), e.VideoID, true); err != nil {
			return err
		}
		if err := checkID(f("user_id"), e.UserID, false); err != nil {
			return err
		}
		if e.WatchMS < 0 || e.WatchMS > 24*3600*1000 {
			return fieldError(f("watch_ms"), "must be between 0 and 86400000")
		}
		if e.WatchMS > 0 && e.Type != "view" {
			return fieldError(f("watch_ms"), "only views have a watch time")
		}
		if e.At != nil {
			if err := checkTime(f("at"), *e.At, now); err != nil {
				return err
			}
		}
	}
	return nil
}

func analyticsSpec(a AnalyticsAggregator, now func() time.Time) *Spec {
	check := func(b *AnalyticsBatch) error { return checkAnalytics(b, now()) }
	return newSpec(Analytics, "aggregate engagement events (views, likes, shares, comments) into counters", check,
		func(ctx context.Context, b *AnalyticsBatch) (any, error) { return a.Aggregate(ctx, b) })
}
