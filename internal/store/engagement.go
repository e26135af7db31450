package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Event is one engagement event. ID is its idempotency key: an event
// whose ID was already applied is not counted again.
type Event struct {
	ID      string
	Type    string // "view", "like", "share" or "comment"
	VideoID string
	UserID  string // "" for anonymous
	WatchMS int64  // views only
	At      time.Time
}

// ApplyResult says what ApplyEvents did.
type ApplyResult struct {
	// Applied events were new and counted; Duplicates had been applied
	// before (a retried or resent batch) and were skipped.
	Applied    int `json:"applied"`
	Duplicates int `json:"duplicates"`
}

// insertChunk events go in one INSERT (7 parameters each, well under
// SQLite's and PostgreSQL's limits).
const insertChunk = 500

type rollupKey struct{ video, day string }

type rollup struct{ views, likes, shares, comments, watch int64 }

// ApplyEvents records the events and adds the new ones to the per-video,
// per-day rollups and unique viewers, all in one transaction: applying the
// same events twice counts them once.
func (s *Store) ApplyEvents(ctx context.Context, events []Event) (ApplyResult, error) {
	var res ApplyResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res = ApplyResult{}
		// Multi-row inserts (insertChunk events per statement): the rows
		// the database reports back through RETURNING are the new events;
		// the others were applied before.
		// In event-id order: two transactions inserting overlapping ids on
		// PostgreSQL wait on each other in the same order, never in a cycle.
		ordered := append([]Event(nil), events...)
		sort.SliceStable(ordered, func(i, j int) bool { return ordered[i].ID < ordered[j].ID })
		inserted := map[string]bool{}
		for lo := 0; lo < len(ordered); lo += insertChunk {
			chunk := ordered[lo:min(lo+insertChunk, len(ordered))]
			var b strings.Builder
			b.WriteString(`INSERT INTO engagement_events (event_id, video_id, user_id, type, watch_ms, day, at_ms) VALUES `)
			args := make([]any, 0, 7*len(chunk))
			for i, e := range chunk {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString("(?, ?, ?, ?, ?, ?, ?)")
				var user any
				if e.UserID != "" {
					user = e.UserID
				}
				args = append(args, e.ID, e.VideoID, user, e.Type, e.WatchMS, Day(e.At), ms(e.At))
			}
			b.WriteString(` ON CONFLICT (event_id) DO NOTHING RETURNING event_id`)
			rows, err := tx.QueryContext(ctx, s.q(b.String()), args...)
			if err != nil {
				return fmt.Errorf("store: recording %d events: %w", len(chunk), err)
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				inserted[id] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		sums := map[rollupKey]*rollup{}
		viewers := map[rollupKey]map[string]struct{}{}
		for _, e := range events {
			if !inserted[e.ID] {
				res.Duplicates++
				continue
			}
			delete(inserted, e.ID) // an id twice in the batch counts once
			res.Applied++
			day := Day(e.At)
			k := rollupKey{e.VideoID, day}
			sum := sums[k]
			if sum == nil {
				sum = &rollup{}
				sums[k] = sum
			}
			switch e.Type {
			case "view":
				sum.views++
				sum.watch += e.WatchMS
				if e.UserID != "" {
					if viewers[k] == nil {
						viewers[k] = map[string]struct{}{}
					}
					viewers[k][e.UserID] = struct{}{}
				}
			case "like":
				sum.likes++
			case "share":
				sum.shares++
			case "comment":
				sum.comments++
			default:
				return fmt.Errorf("store: event %s: unknown type %q", e.ID, e.Type)
			}
		}
		up, err := tx.PrepareContext(ctx, s.q(`INSERT INTO engagement_daily (video_id, day, views, likes, shares, comments, watch_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (video_id, day) DO UPDATE SET
				views = engagement_daily.views + excluded.views,
				likes = engagement_daily.likes + excluded.likes,
				shares = engagement_daily.shares + excluded.shares,
				comments = engagement_daily.comments + excluded.comments,
				watch_ms = engagement_daily.watch_ms + excluded.watch_ms`))
		if err != nil {
			return err
		}
		defer up.Close()
		// Sorted keys: concurrent batches on PostgreSQL lock rows in the
		// same order and cannot deadlock.
		keys := make([]rollupKey, 0, len(sums))
		for k := range sums {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].video != keys[j].video {
				return keys[i].video < keys[j].video
			}
			return keys[i].day < keys[j].day
		})
		for _, k := range keys {
			v := sums[k]
			if _, err := up.ExecContext(ctx, k.video, k.day, v.views, v.likes, v.shares, v.comments, v.watch); err != nil {
				return fmt.Errorf("store: rollup %s %s: %w", k.video, k.day, err)
			}
		}
		vw, err := tx.PrepareContext(ctx, s.q(`INSERT INTO engagement_viewers (video_id, day, user_id) VALUES (?, ?, ?)
			ON CONFLICT (video_id, day, user_id) DO NOTHING`))
		if err != nil {
			return err
		}
		defer vw.Close()
		for _, k := range keys {
			users := make([]string, 0, len(viewers[k]))
			for u := range viewers[k] {
				users = append(users, u)
			}
			sort.Strings(users)
			for _, u := range users {
				if _, err := vw.ExecContext(ctx, k.video, k.day, u); err != nil {
					return fmt.Errorf("store: viewer of %s: %w", k.video, err)
				}
			}
		}
		return nil
	})
	return res, err
}

// Counts are engagement counters.
type Counts struct {
	Views         int64 `json:"views"`
	Likes         int64 `json:"likes"`
	Shares        int64 `json:"shares"`
	Comments      int64 `json:"comments"`
	WatchMS       int64 `json:"watch_ms"`
	UniqueViewers int64 `json:"unique_viewers"`
}

// DayCounts are one day's counters.
type DayCounts struct {
	Day string `json:"day"`
	Counts
}

// VideoStats is a video's daily series over [From, To] and its totals.
type VideoStats struct {
	VideoID string      `json:"video_id"`
	From    string      `json:"from"`
	To      string      `json:"to"`
	Days    []DayCounts `json:"days"` // every day of the range, zeros included
	Totals  Counts      `json:"totals"`
	// UniqueViewers is "exact": counted from the database (signed-in
	// viewers; anonymous views have no identity to count).
	UniqueViewers string `json:"unique_viewers_method"`
}

// MaxStatsDays bounds the range of VideoStats.
const MaxStatsDays = 400

// VideoStats reads the video's rollups from day from to day to
// (YYYY-MM-DD, inclusive).
func (s *Store) VideoStats(ctx context.Context, videoID, from, to string) (*VideoStats, error) {
	f, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return nil, fmt.Errorf("store: from %q is not a date YYYY-MM-DD", from)
	}
	t, err := time.Parse(time.DateOnly, to)
	if err != nil {
		return nil, fmt.Errorf("store: to %q is not a date YYYY-MM-DD", to)
	}
	if t.Before(f) {
		return nil, fmt.Errorf("store: to %s is before from %s", to, from)
	}
	n := int(t.Sub(f).Hours()/24) + 1
	if n > MaxStatsDays {
		return nil, fmt.Errorf("store: range of %d days, limit %d", n, MaxStatsDays)
	}
	st := &VideoStats{VideoID: videoID, From: from, To: to, UniqueViewers: "exact", Days: make([]DayCounts, n)}
	idx := map[string]int{}
	for i := range n {
		d := f.AddDate(0, 0, i).Format(time.DateOnly)
		st.Days[i].Day = d
		idx[d] = i
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT d.day, d.views, d.likes, d.shares, d.comments, d.watch_ms,
			(SELECT COUNT(*) FROM engagement_viewers v WHERE v.video_id = d.video_id AND v.day = d.day)
		FROM engagement_daily d WHERE d.video_id = ? AND d.day >= ? AND d.day <= ? ORDER BY d.day`), videoID, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var day string
		var c Counts
		if err := rows.Scan(&day, &c.Views, &c.Likes, &c.Shares, &c.Comments, &c.WatchMS, &c.UniqueViewers); err != nil {
			return nil, err
		}
		if i, ok := idx[day]; ok {
			st.Days[i].Counts = c
		}
		st.Totals.Views += c.Views
		st.Totals.Likes += c.Likes
		st.Totals.Shares += c.Shares
		st.Totals.Comments += c.Comments
		st.Totals.WatchMS += c.WatchMS
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	err = s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(DISTINCT user_id) FROM engagement_viewers WHERE video_id = ? AND day >= ? AND day <= ?`),
		videoID, from, to).Scan(&st.Totals.UniqueViewers)
	if err != nil {
		return nil, err
	}
	return st, nil
}
