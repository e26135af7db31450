package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// heartbeat keeps proxies from closing an idle live connection.
const heartbeat = 15 * time.Second

// liveEvent is what the page receives for one entry of the events stream.
type liveEvent struct {
	Event        string          `json:"event"`
	JobID        string          `json:"job_id,omitempty"`
	Prev         string          `json:"prev,omitempty"`
	FailedReason string          `json:"failed_reason,omitempty"`
	Progress     json.RawMessage `json:"progress,omitempty"`
	ReturnValue  json.RawMessage `json:"returnvalue,omitempty"`
	StreamID     string          `json:"stream_id"`
}

// small keeps a JSON value for the page only when it is small.
func small(v json.RawMessage) json.RawMessage {
	if len(v) > 2048 {
		return nil
	}
	return v
}

// events streams a queue's events stream to the page as Server-Sent
// Events ("event: job" with a JSON liveEvent), from the moment it
// connects, until the page goes, the server closes, or StreamLifetime
// passes (the browser's EventSource then reconnects by itself). At most
// MaxStreams are open at once.
func (s *Server) events(w http.ResponseWriter, r *http.Request, c *caller) error {
	select {
	case <-s.closed:
		return errorf(http.StatusServiceUnavailable, "the server is shutting down")
	default:
	}
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		return errorf(http.StatusServiceUnavailable, "too many live connections (limit %d): close a dashboard tab", s.o.MaxStreams)
	}
	q, err := s.openQueue(r.Context(), r)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	qe, err := queue.NewQueueEvents(r.Context(), s.o.Redis, q.Name(), &queue.QueueEventsOptions{Prefix: s.o.Prefix, Logger: s.log})
	if err != nil {
		return redisError("following events of "+q.Name(), err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
		defer cancel()
		_ = qe.Close(ctx)
	}()
	sub, err := qe.Subscribe(64)
	if err != nil {
		return redisError("following events of "+q.Name(), err)
	}
	defer sub.Close()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	// The server's WriteTimeout would cut the stream: each write moves the
	// deadline past the next heartbeat instead.
	_ = rc.SetWriteDeadline(time.Now().Add(heartbeat + 10*time.Second))
	w.WriteHeader(http.StatusOK)
	// The page waits for this before it trusts that nothing is missed.
	if _, err := fmt.Fprintf(w, "retry: 2000\nevent: ready\ndata: {\"queue\":%q}\n\n", q.Name()); err != nil {
		return nil
	}
	_ = rc.Flush()

	life := time.NewTimer(s.o.StreamLifetime)
	defer life.Stop()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		var msg string
		select {
		case <-r.Context().Done():
			return nil
		case <-s.closed:
			return nil
		case <-life.C:
			return nil
		case <-beat.C:
			// A signed-out or expired session ends its live connections.
			if c.sess != nil {
				if _, err := s.liveSession(w, r, false); err != nil {
					return nil
				}
			}
			msg = ": keep-alive\n\n"
		case ev, ok := <-sub.C:
			if !ok {
				return nil
			}
			b, _ := json.Marshal(liveEvent{Event: ev.Name, JobID: ev.JobID, Prev: ev.Prev, FailedReason: firstLine(ev.FailedReason),
				Progress: small(ev.Data), ReturnValue: small(ev.ReturnValue), StreamID: ev.StreamID})
			msg = "event: job\ndata: " + string(b) + "\n\n"
		}
		if _, err := w.Write([]byte(msg)); err != nil {
			return nil
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
		_ = rc.SetWriteDeadline(time.Now().Add(heartbeat + 10*time.Second))
	}
}
