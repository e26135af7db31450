package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// User is a Zyeuté account.
type User struct {
	ID        string
	Username  string
	Email     string
	CreatedAt time.Time
}

// UpsertUser creates or updates the user.
func (s *Store) UpsertUser(ctx context.Context, u User) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO users (id, username, email, created_ms) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET username = excluded.username, email = excluded.email`),
		u.ID, u.Username, u.Email, ms(u.CreatedAt))
	return err
}

// Video is a posted video.
type Video struct {
	ID        string
	UserID    string
	Title     string
	CreatedAt time.Time
}

// UpsertVideo creates the video or updates its owner, title and creation
// time.
func (s *Store) UpsertVideo(ctx context.Context, v Video) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO videos (id, user_id, title, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, title = excluded.title, created_ms = excluded.created_ms, updated_ms = excluded.updated_ms`),
		v.ID, v.UserID, v.Title, ms(v.CreatedAt), ms(time.Now()))
	return err
}

// RegisterVideo records the video's owner and creation time, keeping its
// title and renditions when it exists.
func (s *Store) RegisterVideo(ctx context.Context, id, userID string, created time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO videos (id, user_id, created_ms, updated_ms) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, created_ms = excluded.created_ms, updated_ms = excluded.updated_ms`),
		id, userID, ms(created), ms(time.Now()))
	return err
}

// SetRenditions records a video's renditions (a JSON array), creating the
// row when missing (for the video-enhancement worker).
func (s *Store) SetRenditions(ctx context.Context, videoID, renditionsJSON string) error {
	now := ms(time.Now())
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO videos (id, created_ms, renditions, updated_ms) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET renditions = excluded.renditions, updated_ms = excluded.updated_ms`),
		videoID, now, renditionsJSON, now)
	return err
}

// Renditions returns the video's renditions JSON, or ErrNotFound.
func (s *Store) Renditions(ctx context.Context, videoID string) (string, error) {
	var r string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT renditions FROM videos WHERE id = ?`), videoID).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return r, err
}

// VideoEngagement is one of a user's videos with its engagement over a
// period.
type VideoEngagement struct {
	VideoID   string
	CreatedAt time.Time
	Counts
}

// MaxUserVideos bounds UserVideos.
const MaxUserVideos = 5000

// UserVideos lists the user's videos (newest first, at most
// MaxUserVideos) with their engagement between days from and to
// (YYYY-MM-DD, inclusive; "" for unbounded).
func (s *Store) UserVideos(ctx context.Context, userID, from, to string) ([]VideoEngagement, error) {
	if from == "" {
		from = "0000-00-00"
	}
	if to == "" {
		to = "9999-99-99"
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT v.id, v.created_ms,
			COALESCE(SUM(d.views), 0), COALESCE(SUM(d.likes), 0), COALESCE(SUM(d.shares), 0), COALESCE(SUM(d.comments), 0), COALESCE(SUM(d.watch_ms), 0)
		FROM videos v LEFT JOIN engagement_daily d ON d.video_id = v.id AND d.day >= ? AND d.day <= ?
		WHERE v.user_id = ? GROUP BY v.id, v.created_ms ORDER BY v.created_ms DESC, v.id LIMIT ?`), from, to, userID, MaxUserVideos)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []VideoEngagement
	for rows.Next() {
		var v VideoEngagement
		var created int64
		if err := rows.Scan(&v.VideoID, &created, &v.Views, &v.Likes, &v.Shares, &v.Comments, &v.WatchMS); err != nil {
			return nil, err
		}
		v.CreatedAt = fromMS(created)
		out = append(out, v)
	}
	return out, rows.Err()
}

// MemoryRow is one stored memory.
type MemoryRow struct {
	VideoID        string    `json:"video_id"`
	Kind           string    `json:"kind"`
	YearsAgo       int       `json:"years_ago,omitempty"`
	Score          float64   `json:"score"`
	Rank           int       `json:"rank"`
	VideoCreatedAt time.Time `json:"created_at"`
}

// UserMemories are a user's memories of one day.
type UserMemories struct {
	UserID     string      `json:"user_id"`
	Day        string      `json:"date"`
	ComputedAt *time.Time  `json:"computed_at,omitempty"`
	Memories   []MemoryRow `json:"memories"`
}

// ReplaceMemories stores the user's memories of the day, replacing any
// set computed before for that user and day (idempotent).
func (s *Store) ReplaceMemories(ctx context.Context, userID, day string, mems []MemoryRow) error {
	now := ms(time.Now())
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM memories WHERE user_id = ? AND day = ?`), userID, day); err != nil {
			return err
		}
		for _, m := range mems {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO memories (user_id, day, video_id, kind, years_ago, score, rank, video_created_ms, computed_ms)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), userID, day, m.VideoID, m.Kind, m.YearsAgo, m.Score, m.Rank, ms(m.VideoCreatedAt), now); err != nil {
				return err
			}
		}
		return nil
	})
}

// Memories returns the user's memories of day (YYYY-MM-DD), or of the
// latest day computed when day is "". No memories: an empty list.
func (s *Store) Memories(ctx context.Context, userID, day string) (*UserMemories, error) {
	if day == "" {
		var d sql.NullString
		if err := s.db.QueryRowContext(ctx, s.q(`SELECT MAX(day) FROM memories WHERE user_id = ?`), userID).Scan(&d); err != nil {
			return nil, err
		}
		day = d.String
	}
	um := &UserMemories{UserID: userID, Day: day, Memories: []MemoryRow{}}
	if day == "" {
		return um, nil
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT video_id, kind, years_ago, score, rank, video_created_ms, computed_ms
		FROM memories WHERE user_id = ? AND day = ? ORDER BY rank`), userID, day)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var m MemoryRow
		var created, computed int64
		if err := rows.Scan(&m.VideoID, &m.Kind, &m.YearsAgo, &m.Score, &m.Rank, &created, &computed); err != nil {
			return nil, err
		}
		m.VideoCreatedAt = fromMS(created)
		c := fromMS(computed)
		um.ComputedAt = &c
		um.Memories = append(um.Memories, m)
	}
	return um, rows.Err()
}
