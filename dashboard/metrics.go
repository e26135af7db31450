package dashboard

import (
	"context"
	"net/http"
	"time"
)

// queueMetrics answers completed and failed jobs per minute (newest
// first) for the last ?minutes= (default 60, at most 1440), as recorded by
// workers with the metrics option.
func (s *Server) queueMetrics(w http.ResponseWriter, r *http.Request, _ *caller) error {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	q, err := s.openQueue(ctx, r)
	if err != nil {
		return err
	}
	minutes, err := intParam(r, "minutes", 60, 1, 1440)
	if err != nil {
		return err
	}
	out := map[string]any{"queue": q.Name(), "minutes": minutes}
	for _, kind := range []string{"completed", "failed"} {
		m, err := q.GetMetrics(ctx, kind, 0, int64(minutes)-1)
		if err != nil {
			return redisError("reading metrics", err)
		}
		// The minute in progress is not a data point yet: BullMQ pushes it
		// when the minute turns. count - prevCount is what it holds so far.
		out[kind] = map[string]any{"count": m.Count, "prev_ts": m.PrevTS, "per_minute": m.Data, "points": m.Points,
			"current": max(m.Count-m.PrevCount, 0)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
