package jobs

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Limits of a memory-mining job.
const (
	MaxMemoryVideos   = 500 // videos considered per job
	MaxMemories       = 10  // memories returned
	maxTopMoments     = 5
	topMomentMinAge   = 30 * 24 * time.Hour
	memoryDateLayout  = "2006-01-02"
	memoryMinimumYear = 2000
)

// MemoryVideo is one of the user's past videos with its engagement.
type MemoryVideo struct {
	VideoID string `json:"video_id"`
	// CreatedAt, from 2000-01-01 to 24 hours from now (required).
	CreatedAt time.Time `json:"created_at"`
	// Counts, 0 to 2^53 − 1.
	Views    int64 `json:"views"`
	Likes    int64 `json:"likes"`
	Shares   int64 `json:"shares"`
	Comments int64 `json:"comments"`
}

// MemoryMiningJob is the payload of the memory-mining queue: pick a user's
// "memories" among their past videos.
type MemoryMiningJob struct {
	// UserID (required).
	UserID string `json:"user_id"`
	// Date is the day to mine for, YYYY-MM-DD, from 2000-01-01 to
	// tomorrow. Defaults to today (UTC).
	Date string `json:"date,omitempty"`
	// Videos to consider, 0–500 (the caller sends ids and counts, not
	// media). A database-backed miner registers them as the user's videos
	// and takes their engagement from the stored rollups instead.
	Videos []MemoryVideo `json:"videos,omitempty"`
}

// Memory is one surfaced video.
type Memory struct {
	VideoID   string    `json:"video_id"`
	Kind      string    `json:"kind"` // "on_this_day" or "top_moment"
	YearsAgo  int       `json:"years_ago,omitempty"`
	Score     float64   `json:"score"`
	CreatedAt time.Time `json:"created_at"`
}

// MemoryMiningResult lists the memories, best first.
type MemoryMiningResult struct {
	UserID     string   `json:"user_id"`
	Date       string   `json:"date"`
	Memories   []Memory `json:"memories"`
	Considered int      `json:"considered"`
	// Miner names the implementation ("local", "database").
	Miner string `json:"miner"`
}

// MemoryMiner does the work of a memory-mining job.
type MemoryMiner interface {
	Mine(ctx context.Context, job *MemoryMiningJob) (*MemoryMiningResult, error)
}

// LocalMemoryMiner ranks the videos it is given with a fixed rule: "on this
// day" videos (same month and day in an earlier year) first, then up to 5
// "top moments" older than 30 days by engagement score (views + 5·likes +
// 10·shares + 3·comments), at most 10 in all, ties by video id. A
// production deployment plugs in the recommendation service, which reads
// the user's full history and ranks with its own model.
type LocalMemoryMiner struct {
	// Now is the clock for a job without a date. Defaults to time.Now.
	Now func() time.Time
}

func engagement(v MemoryVideo) float64 {
	return float64(v.Views) + 5*float64(v.Likes) + 10*float64(v.Shares) + 3*float64(v.Comments)
}

// Mine implements MemoryMiner.
func (m LocalMemoryMiner) Mine(ctx context.Context, j *MemoryMiningJob) (*MemoryMiningResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	day := now().UTC()
	if j.Date != "" {
		day, _ = time.Parse(memoryDateLayout, j.Date) // checked by validation
	}
	res := &MemoryMiningResult{UserID: j.UserID, Date: day.Format(memoryDateLayout), Considered: len(j.Videos), Miner: "local", Memories: []Memory{}}
	var onDay, top []Memory
	for _, v := range j.Videos {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := v.CreatedAt.UTC()
		mem := Memory{VideoID: v.VideoID, Score: engagement(v), CreatedAt: c}
		switch {
		case c.Year() < day.Year() && c.Month() == day.Month() && c.Day() == day.Day():
			mem.Kind, mem.YearsAgo = "on_this_day", day.Year()-c.Year()
			onDay = append(onDay, mem)
		case day.Sub(c) >= topMomentMinAge:
			mem.Kind = "top_moment"
			top = append(top, mem)
		}
	}
	byScore := func(s []Memory) {
		sort.Slice(s, func(a, b int) bool {
			if s[a].Score != s[b].Score {
				return s[a].Score > s[b].Score
			}
			return s[a].VideoID < s[b].VideoID
		})
	}
	byScore(onDay)
	byScore(top)
	res.Memories = append(res.Memories, onDay[:min(len(onDay), MaxMemories)]...)
	if room := MaxMemories - len(res.Memories); room > 0 {
		res.Memories = append(res.Memories, top[:min(len(top), maxTopMoments, room)]...)
	}
	return res, nil
}

func checkMemory(j *MemoryMiningJob, now time.Time) error {
	if err := checkID("user_id", j.UserID, true); err != nil {
		return err
	}
	if j.Date != "" {
		d, err := time.Parse(memoryDateLayout, j.Date)
		if err != nil || d.Year() < memoryMinimumYear {
			return fieldError("date", "must be a date YYYY-MM-DD after %d", memoryMinimumYear)
		}
		if d.After(now.Add(MaxFutureSkew)) {
			return fieldError("date", "must not be more than a day after today (got %s)", j.Date)
		}
	}
	if len(j.Videos) > MaxMemoryVideos {
		return fieldError("videos", "has %d videos, limit %d per job", len(j.Videos), MaxMemoryVideos)
	}
	for i, v := range j.Videos {
		f := func(n string) string { return fmt.Sprintf("videos[%d].%s", i, n) }
		if err := checkID(f("video_id"), v.VideoID, true); err != nil {
			return err
		}
		if v.CreatedAt.IsZero() {
			return fieldError(f("created_at"), "is required (RFC 3339, after %d)", memoryMinimumYear)
		}
		if err := checkTime(f("created_at"), v.CreatedAt, now); err != nil {
			return err
		}
		for _, c := range []struct {
			name string
			v    int64
		}{{"views", v.Views}, {"likes", v.Likes}, {"shares", v.Shares}, {"comments", v.Comments}} {
			if err := checkCount(f(c.name), c.v); err != nil {
				return err
			}
		}
	}
	return nil
}

func memorySpec(m MemoryMiner, now func() time.Time) *Spec {
	check := func(j *MemoryMiningJob) error { return checkMemory(j, now()) }
	return newSpec(MemoryMining, "surface a user's memories (on this day, top moments) from their past videos", check,
		func(ctx context.Context, j *MemoryMiningJob) (any, error) { return m.Mine(ctx, j) })
}
