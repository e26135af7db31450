package dashboard

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// maxListedSchedulers bounds the schedulers the queue view lists.
const maxListedSchedulers = 100

// schedulerRow is one job scheduler of the queue view. Times are epoch
// milliseconds, 0 when unset.
type schedulerRow struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	EveryMS        int64  `json:"every_ms,omitempty"`
	Pattern        string `json:"pattern,omitempty"`
	TZ             string `json:"tz,omitempty"`
	Next           int64  `json:"next"`
	IterationCount int64  `json:"iteration_count"`
	Limit          int64  `json:"limit,omitempty"`
	EndDate        int64  `json:"end_date,omitempty"`
}

// listSchedulers answers the queue's job schedulers (read-only), soonest
// next run first, at most 100, with their total.
func (s *Server) listSchedulers(w http.ResponseWriter, r *http.Request, _ *caller) error {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	q, err := s.openQueue(ctx, r)
	if err != nil {
		return err
	}
	total, err := q.GetJobSchedulersCount(ctx)
	if err != nil {
		return redisError("counting job schedulers", err)
	}
	list, err := q.GetJobSchedulers(ctx, 0, maxListedSchedulers-1, true)
	var bad *queue.MalformedJobError
	if err != nil && !errors.As(err, &bad) {
		return redisError("listing job schedulers", err)
	}
	rows := make([]schedulerRow, 0, len(list))
	for _, js := range list {
		rows = append(rows, schedulerRow{ID: js.ID, Name: js.Name, EveryMS: js.Every, Pattern: js.Pattern, TZ: js.TZ,
			Next: js.Next, IterationCount: js.IterationCount, Limit: js.Limit, EndDate: js.EndDate})
	}
	out := map[string]any{"queue": q.Name(), "total": total, "schedulers": rows}
	if bad != nil {
		// GetJobSchedulers stops at a scheduler whose options do not
		// parse: say which, rather than hide it.
		out["error"] = bad.Error()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
