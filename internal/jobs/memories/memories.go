// Package memories is the database-backed memory-mining queue: from a
// user's videos and their engagement in the application store it computes
// the user's "memories" of a day (on this day in earlier years, top
// moments by engagement), stores them idempotently per user and day, and
// GET /api/users/{id}/memories reads them back.
package memories

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/zyeute/zyeute-redis/httpjson"
	"github.com/zyeute/zyeute-redis/internal/httpapi"
	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/store"
)

// Miner implements jobs.MemoryMiner on the store.
type Miner struct {
	Store *store.Store
	// Now is the clock for a job without a date. Defaults to time.Now.
	Now func() time.Time
}

var _ jobs.MemoryMiner = (*Miner)(nil)

// Mine registers the payload's videos (owner, creation time), reads all
// the user's videos with their all-time engagement from the rollups,
// ranks them with the local rule (jobs.LocalMemoryMiner: on-this-day
// first, then top moments older than 30 days by views + 5·likes +
// 10·shares + 3·comments) and replaces the user's memories of the day.
// Counts in the payload are ignored: the database's rollups are the truth.
func (m *Miner) Mine(ctx context.Context, j *jobs.MemoryMiningJob) (*jobs.MemoryMiningResult, error) {
	for _, v := range j.Videos {
		if err := m.Store.RegisterVideo(ctx, v.VideoID, j.UserID, v.CreatedAt); err != nil {
			return nil, fmt.Errorf("memory-mining: registering video %s: %w", v.VideoID, err)
		}
	}
	vids, err := m.Store.UserVideos(ctx, j.UserID, "", "")
	if err != nil {
		return nil, fmt.Errorf("memory-mining: reading the user's videos: %w", err)
	}
	in := &jobs.MemoryMiningJob{UserID: j.UserID, Date: j.Date, Videos: make([]jobs.MemoryVideo, len(vids))}
	for i, v := range vids {
		in.Videos[i] = jobs.MemoryVideo{VideoID: v.VideoID, CreatedAt: v.CreatedAt, Views: v.Views, Likes: v.Likes, Shares: v.Shares, Comments: v.Comments}
	}
	res, err := jobs.LocalMemoryMiner{Now: m.Now}.Mine(ctx, in)
	if err != nil {
		return nil, err
	}
	rows := make([]store.MemoryRow, len(res.Memories))
	for i, mem := range res.Memories {
		rows[i] = store.MemoryRow{VideoID: mem.VideoID, Kind: mem.Kind, YearsAgo: mem.YearsAgo, Score: mem.Score, Rank: i + 1, VideoCreatedAt: mem.CreatedAt}
	}
	if err := m.Store.ReplaceMemories(ctx, j.UserID, res.Date, rows); err != nil {
		return nil, fmt.Errorf("memory-mining: storing memories: %w", err)
	}
	res.Miner = "database"
	return res, nil
}

// Routes is GET /api/users/{id}/memories?date=YYYY-MM-DD: the memories
// computed for that day, or for the latest day computed without date (an
// empty list when none). A Service route.
func Routes(st *store.Store, logger *slog.Logger) []httpapi.Route {
	return []httpapi.Route{{Pattern: "GET /api/users/{id}/memories", Service: true,
		Handler: httpapi.Handle(logger, func(w http.ResponseWriter, r *http.Request) error {
			id := r.PathValue("id")
			if err := jobs.CheckID("id", id); err != nil {
				return httpapi.Errorf(http.StatusBadRequest, "memories: user %s", err.(*jobs.ValidationError).Reason)
			}
			date := r.URL.Query().Get("date")
			if date != "" {
				if _, err := time.Parse(time.DateOnly, date); err != nil {
					return httpapi.Errorf(http.StatusBadRequest, "memories: date must be a date YYYY-MM-DD")
				}
			}
			um, err := st.Memories(r.Context(), id, date)
			if err != nil {
				return &httpapi.Error{Status: http.StatusServiceUnavailable, Message: "memories: the database did not answer; try again", Err: err}
			}
			httpjson.Write(w, http.StatusOK, um)
			return nil
		})}}
}
