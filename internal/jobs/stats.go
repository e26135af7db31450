package jobs

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
	"github.com/zyeute/zyeute-redis/redisconn"
)

// QueueStats are one queue's numbers.
type QueueStats struct {
	Queue  string       `json:"queue"`
	Counts queue.Counts `json:"counts"`
	Paused bool         `json:"paused"`
	// Workers connected to this queue (Go or Node), from CLIENT LIST;
	// null when the ACL user may not run CLIENT LIST.
	Workers *int `json:"workers"`
	// OldestWaitingAgeSeconds is the age of the job next in line in
	// `wait` (created → now); null when nothing waits.
	OldestWaitingAgeSeconds *float64 `json:"oldest_waiting_age_seconds"`
	// ActiveWithoutLock counts jobs in `active` whose lock is gone: their
	// worker died or lost the lock; the stalled check will move them back.
	// Only the first ActiveChecked active jobs are looked at.
	ActiveWithoutLock int64 `json:"active_without_lock"`
	ActiveChecked     int64 `json:"active_checked"`
}

// StatsSnapshot is every queue's numbers at one moment.
type StatsSnapshot struct {
	GeneratedAt time.Time    `json:"generated_at"`
	Prefix      string       `json:"prefix"`
	Queues      []QueueStats `json:"queues"`
	// WorkersError says why worker counts are null, when they are.
	WorkersError string `json:"workers_error,omitempty"`
}

// StatsConfig configures Stats. A nil *StatsConfig means all defaults.
type StatsConfig struct {
	// Prefix is the BullMQ key prefix. Defaults to "bull".
	Prefix string
	// TTL is how long a snapshot is served from cache. Defaults to 2s.
	TTL time.Duration
	// Timeout bounds one refresh. Defaults to 3s.
	Timeout time.Duration
	// MaxActiveChecked bounds the active jobs inspected per queue for a
	// missing lock. Defaults to 1000.
	MaxActiveChecked int
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// Stats reads queue statistics with O(number of queues) Redis commands per
// refresh (one script call per queue plus one CLIENT LIST) and caches the
// snapshot for TTL, so a scrape storm costs Redis one refresh per TTL.
type Stats struct {
	r      Redis
	queues []string
	cfg    StatsConfig

	mu     sync.Mutex // held during a refresh: concurrent callers wait for it
	cached *StatsSnapshot
	err    error
	at     time.Time
}

// NewStats returns stats for the queues on r (nil r: always unavailable).
func NewStats(r Redis, queues []string, cfg *StatsConfig) (*Stats, error) {
	var c StatsConfig
	if cfg != nil {
		c = *cfg
	}
	if c.Prefix == "" {
		c.Prefix = queue.DefaultPrefix
	}
	if c.TTL == 0 {
		c.TTL = 2 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Second
	}
	if c.MaxActiveChecked == 0 {
		c.MaxActiveChecked = 1000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TTL < 0 || c.Timeout < 0 || c.MaxActiveChecked < 0 {
		return nil, errors.New("jobs: StatsConfig durations and MaxActiveChecked must not be negative")
	}
	if len(queues) == 0 {
		return nil, errors.New("jobs: stats need at least one queue")
	}
	return &Stats{r: r, queues: append([]string(nil), queues...), cfg: c}, nil
}

// Snapshot returns the cached snapshot, refreshing it when older than TTL.
// A failed refresh is cached for TTL too. With Redis not connected it
// returns an error wrapping ErrRedisUnavailable without touching Redis.
func (s *Stats) Snapshot(ctx context.Context) (*StatsSnapshot, error) {
	if s.r == nil || s.r.Client() == nil || s.r.State() != redisconn.Connected {
		return nil, redisUnavailable(s.r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.at.IsZero() && s.cfg.Now().Sub(s.at) < s.cfg.TTL {
		return s.cached, s.err
	}
	s.cached, s.err = s.refresh(ctx)
	s.at = s.cfg.Now()
	return s.cached, s.err
}

// Refresh reads fresh numbers, bypassing the cache (for the CLI).
func (s *Stats) Refresh(ctx context.Context) (*StatsSnapshot, error) {
	if s.r == nil || s.r.Client() == nil {
		return nil, redisUnavailable(s.r)
	}
	return s.refresh(ctx)
}

func (s *Stats) refresh(ctx context.Context) (*StatsSnapshot, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Timeout)
	defer cancel()
	c := s.r.Client()
	now := s.cfg.Now()
	snap := &StatsSnapshot{GeneratedAt: now.UTC(), Prefix: s.cfg.Prefix, Queues: make([]QueueStats, 0, len(s.queues))}
	for _, name := range s.queues {
		q, err := queue.NewQueue(c, name, &queue.QueueOptions{Prefix: s.cfg.Prefix})
		if err != nil {
			return nil, err
		}
		st, err := q.Stats(ctx, &queue.StatsOptions{MaxActiveChecked: s.cfg.MaxActiveChecked})
		if err != nil {
			return nil, err
		}
		qs := QueueStats{Queue: name, Counts: st.Counts, Paused: st.Paused, ActiveWithoutLock: st.ActiveWithoutLock,
			ActiveChecked: st.ActiveChecked}
		if !st.OldestWaiting.IsZero() {
			age := max(now.Sub(st.OldestWaiting).Seconds(), 0)
			qs.OldestWaitingAgeSeconds = &age
		}
		snap.Queues = append(snap.Queues, qs)
	}
	workers, err := queue.CountWorkers(ctx, c, s.cfg.Prefix, s.queues)
	if err != nil {
		snap.WorkersError = "CLIENT LIST failed: " + redisconn.Explain(errors.Unwrap(err))
	} else {
		for i := range snap.Queues {
			w := workers[snap.Queues[i].Queue]
			snap.Queues[i].Workers = &w
		}
	}
	return snap, nil
}
