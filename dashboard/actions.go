package dashboard

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// queueAction runs pause, resume, retry-failed or clean-completed.
func (s *Server) queueAction(w http.ResponseWriter, r *http.Request, _ *caller) error {
	action := r.PathValue("action")
	switch action {
	case "pause", "resume", "retry-failed", "clean-completed":
	default:
		return errorf(http.StatusNotFound, "no queue action %q (pause, resume, retry-failed, clean-completed)", action)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	q, err := s.openQueue(ctx, r)
	if err != nil {
		return err
	}
	out := map[string]any{"queue": q.Name(), "action": action}
	switch action {
	case "pause":
		err = q.Pause(ctx)
	case "resume":
		err = q.Resume(ctx)
	case "retry-failed":
		var before int64
		if before, err = failedCount(ctx, q); err == nil {
			err = q.RetryJobs(ctx, queue.StateFailed, 1000, s.o.Now())
			out["failed_before"] = before
		}
	case "clean-completed":
		// Every completed job, up to one batch (10000) per click; the
		// answer says how many went.
		var ids []string
		ids, err = q.Clean(ctx, 0, cleanBatch, queue.StateCompleted)
		out["removed"] = len(ids)
	}
	if err != nil {
		return redisError(action+" "+q.Name(), err)
	}
	s.forget()
	s.log.Info("[Dashboard] queue action", "queue", q.Name(), "action", action)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func failedCount(ctx context.Context, q *queue.Queue) (int64, error) {
	c, err := q.Counts(ctx)
	return c.Failed, err
}

// jobAction runs retry or promote on one job.
func (s *Server) jobAction(w http.ResponseWriter, r *http.Request, _ *caller) error {
	action := r.PathValue("action")
	if action != "retry" && action != "promote" {
		return errorf(http.StatusNotFound, "no job action %q (retry, promote; DELETE removes)", action)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	q, j, err := s.openJob(ctx, r)
	if err != nil {
		return err
	}
	st, err := j.GetState(ctx)
	if err != nil {
		return redisError("reading job state", err)
	}
	switch action {
	case "retry":
		if st != queue.StateFailed && st != queue.StateCompleted {
			return errorf(http.StatusConflict, "job %s is %s: only failed or completed jobs can be retried", j.ID, st)
		}
		err = j.Retry(ctx, st, nil)
	case "promote":
		if st != queue.StateDelayed {
			return errorf(http.StatusConflict, "job %s is %s: only delayed jobs can be promoted", j.ID, st)
		}
		err = j.Promote(ctx)
	}
	if err != nil {
		return jobError(action, j.ID, err)
	}
	s.forget()
	s.log.Info("[Dashboard] job action", "queue", q.Name(), "job", j.ID, "action", action)
	writeJSON(w, http.StatusOK, map[string]any{"queue": q.Name(), "id": j.ID, "action": action, "from": st})
	return nil
}

func (s *Server) removeJob(w http.ResponseWriter, r *http.Request, _ *caller) error {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	q, j, err := s.openJob(ctx, r)
	if err != nil {
		return err
	}
	if err := j.Remove(ctx); err != nil {
		return jobError("remove", j.ID, err)
	}
	s.forget()
	s.log.Info("[Dashboard] job removed", "queue", q.Name(), "job", j.ID)
	writeJSON(w, http.StatusOK, map[string]any{"queue": q.Name(), "id": j.ID, "action": "remove"})
	return nil
}

// jobError maps the queue's sentinel errors to answers an operator reads.
func jobError(action, id string, err error) error {
	switch {
	case errors.Is(err, queue.ErrJobNotFound):
		return errorf(http.StatusNotFound, "%s: job %s is gone", action, id)
	case errors.Is(err, queue.ErrNotInState):
		return errorf(http.StatusConflict, "%s: job %s changed state meanwhile; reload and try again", action, id)
	case errors.Is(err, queue.ErrLockMissing), errors.Is(err, queue.ErrLockMismatch):
		return errorf(http.StatusConflict, "%s: job %s is being processed by a worker (locked)", action, id)
	case errors.Is(err, queue.ErrPendingChildren):
		return errorf(http.StatusConflict, "%s: job %s has pending children", action, id)
	case errors.Is(err, queue.ErrInvalidOption):
		return errorf(http.StatusBadRequest, "%s: %v", action, err)
	}
	return redisError(action+" job "+id, err)
}
