package dashboard

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/queue"
)

// maxListedQueues bounds the overview (each queue costs a few round trips).
const maxListedQueues = 200

// cleanBatch bounds one "clean completed" and one "retry all failed".
const cleanBatch = 10000

// queueRow is one queue of the overview.
type queueRow struct {
	Name   string       `json:"name"`
	Counts queue.Counts `json:"counts"`
	Paused bool         `json:"paused"`
	// Workers is nil when they could not be counted (CLIENT LIST refused).
	Workers       *int     `json:"workers"`
	OldestWaiting *float64 `json:"oldest_waiting_age_seconds"`
	// ActiveWithoutLock: jobs in active whose lock is gone (their worker
	// died or lost it), among the first 1000 of active.
	ActiveWithoutLock int64 `json:"active_without_lock"`
}

type overview struct {
	Prefix      string     `json:"prefix"`
	GeneratedAt time.Time  `json:"generated_at"`
	Queues      []queueRow `json:"queues"`
	Truncated   bool       `json:"truncated,omitempty"`
	Errors      []string   `json:"errors,omitempty"`
}

// queueCache keeps the last overview for ttl, or five times what it took
// to build when that is longer: many open pages cost Redis what one does,
// and with many queues (one read-only stats script each) the dashboard
// keeps Redis busy at most a fifth of the time.
type queueCache struct {
	ttl time.Duration

	mu    sync.Mutex
	until time.Time
	last  *overview
	names map[string]bool
}

var errNoRedis = &apiError{status: http.StatusServiceUnavailable, msg: "Redis is not configured (REDIS_URL or REDIS_HOST): no queues to show", code: "no_redis"}

func (s *Server) client() (redis.UniversalClient, error) {
	if s.o.Redis == nil {
		return nil, errNoRedis
	}
	return s.o.Redis, nil
}

// redisError turns a Redis failure into a 503 that says what failed.
func redisError(what string, err error) error {
	if err == nil {
		return nil
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return err
	}
	return &apiError{status: http.StatusServiceUnavailable, msg: what + ": " + err.Error(), code: "redis"}
}

func (s *Server) overview(ctx context.Context) (*overview, error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	s.queues.mu.Lock()
	defer s.queues.mu.Unlock()
	now := s.o.Now()
	if s.queues.last != nil && now.Before(s.queues.until) {
		return s.queues.last, nil
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	names, err := queue.ListQueues(ctx, c, s.o.Prefix)
	if err != nil {
		return nil, redisError("listing queues", err)
	}
	slices.Sort(names)
	ov := &overview{Prefix: s.o.Prefix, GeneratedAt: now.UTC(), Queues: []queueRow{}}
	if len(names) > maxListedQueues {
		names, ov.Truncated = names[:maxListedQueues], true
	}
	known := make(map[string]bool, len(names))
	// One CLIENT LIST per server for every queue's workers.
	workers, werr := queue.CountWorkers(ctx, c, s.o.Prefix, names)
	if werr != nil {
		ov.Errors = append(ov.Errors, "workers: "+werr.Error())
	}
	for _, name := range names {
		known[name] = true
		q, err := queue.NewQueue(c, name, &queue.QueueOptions{Prefix: s.o.Prefix})
		if err != nil {
			ov.Errors = append(ov.Errors, name+": "+err.Error())
			continue
		}
		st, err := q.Stats(ctx, nil)
		if err != nil {
			return nil, redisError("reading "+name, err)
		}
		row := queueRow{Name: name, Counts: st.Counts, Paused: st.Paused, ActiveWithoutLock: st.ActiveWithoutLock}
		if n, ok := workers[name]; ok && werr == nil {
			row.Workers = &n
		}
		if !st.OldestWaiting.IsZero() {
			age := max(now.Sub(st.OldestWaiting).Seconds(), 0)
			row.OldestWaiting = &age
		}
		ov.Queues = append(ov.Queues, row)
	}
	s.queues.until, s.queues.last, s.queues.names = now.Add(max(s.queues.ttl, 5*time.Since(began))), ov, known
	return ov, nil
}

// forget drops the cached overview (after an action changed a queue).
func (s *Server) forget() {
	s.queues.mu.Lock()
	s.queues.last = nil
	s.queues.mu.Unlock()
}

func (s *Server) listQueues(w http.ResponseWriter, r *http.Request, _ *caller) error {
	ov, err := s.overview(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ov)
	return nil
}

// checkName refuses names no queue could have before Redis is asked.
func checkName(what, v string) error {
	if v == "" || len(v) > 512 {
		return errorf(http.StatusBadRequest, "%s must be 1 to 512 bytes", what)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return errorf(http.StatusBadRequest, "%s contains a control character", what)
		}
	}
	return nil
}

// openQueue returns the queue named in the path, which must exist (be
// discovered under the prefix): an action never creates a queue.
func (s *Server) openQueue(ctx context.Context, r *http.Request) (*queue.Queue, error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	name := r.PathValue("queue")
	if err := checkName("queue name", name); err != nil {
		return nil, err
	}
	s.queues.mu.Lock()
	known := s.queues.names[name]
	s.queues.mu.Unlock()
	if !known {
		s.forget()
		if _, err := s.overview(ctx); err != nil {
			return nil, err
		}
		s.queues.mu.Lock()
		known = s.queues.names[name]
		s.queues.mu.Unlock()
	}
	if !known {
		return nil, errorf(http.StatusNotFound, "no queue %q under prefix %q", name, s.o.Prefix)
	}
	q, err := queue.NewQueue(c, name, &queue.QueueOptions{Prefix: s.o.Prefix})
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "queue %q: %v", name, err)
	}
	return q, nil
}
