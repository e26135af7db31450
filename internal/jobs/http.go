package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/zyeute/zyeute-redis/httpjson"
	"github.com/zyeute/zyeute-redis/internal/httpapi"
	"github.com/zyeute/zyeute-redis/queue"
	"github.com/zyeute/zyeute-redis/redisconn"
)

// MaxRequestBody bounds a POST /api/jobs/{queue} body.
const MaxRequestBody = MaxPayloadSize + 16<<10

// EnqueueRequest is the body of POST /api/jobs/{queue}.
type EnqueueRequest struct {
	// Name of the job. Defaults to the queue name.
	Name string `json:"name"`
	// Data is the queue's payload (a JSON object).
	Data json.RawMessage `json:"data"`
	// Opts are optional job options.
	Opts *EnqueueRequestOpts `json:"opts"`
}

// EnqueueRequestOpts are the options a client may set.
type EnqueueRequestOpts struct {
	DelayMS  int64  `json:"delay_ms"`
	Priority int    `json:"priority"`
	Attempts int    `json:"attempts"`
	JobID    string `json:"job_id"`
}

// Routes are the job endpoints: POST /api/jobs/{queue}, GET
// /api/jobs/{queue}/{id} (Service routes: JOBS_API_TOKEN, ADMIN_TOKEN or a
// loopback client, see httpapi.Route) and, when st is not nil, the admin
// route GET /api/admin/queue/stats.
func Routes(d *Dispatcher, st *Stats, logger *slog.Logger) []httpapi.Route {
	rs := []httpapi.Route{
		{Pattern: "POST /api/jobs/{queue}", Service: true, Handler: httpapi.Handle(logger, func(w http.ResponseWriter, r *http.Request) error {
			return enqueueHandler(d, w, r)
		})},
		{Pattern: "GET /api/jobs/{queue}/{id}", Service: true, Handler: httpapi.Handle(logger, func(w http.ResponseWriter, r *http.Request) error {
			info, err := d.Job(r.Context(), r.PathValue("queue"), r.PathValue("id"))
			if errors.Is(err, ErrRedisUnavailable) {
				// Expected in degraded mode: answer without an error log line.
				httpjson.Error(w, http.StatusServiceUnavailable, ClientMessage(err))
				return nil
			}
			if err != nil {
				return httpError(err)
			}
			httpjson.Write(w, http.StatusOK, info)
			return nil
		})},
	}
	if st != nil {
		rs = append(rs, httpapi.Route{Pattern: "GET /api/admin/queue/stats", Admin: true,
			Handler: httpapi.Handle(logger, func(w http.ResponseWriter, r *http.Request) error {
				snap, err := st.Snapshot(r.Context())
				if errors.Is(err, ErrRedisUnavailable) {
					httpjson.Error(w, http.StatusServiceUnavailable, "queue stats: "+ClientMessage(err))
					return nil
				}
				if err != nil {
					return httpError(err)
				}
				httpjson.Write(w, http.StatusOK, snap)
				return nil
			})})
	}
	return rs
}

func enqueueHandler(d *Dispatcher, w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("queue")
	if _, err := d.Registry().Spec(name); err != nil {
		return httpError(err)
	}
	var req EnqueueRequest
	if err := httpapi.DecodeJSON(w, r, &req, MaxRequestBody); err != nil {
		return err
	}
	var opts *EnqueueOptions
	if o := req.Opts; o != nil {
		if o.DelayMS < 0 || o.DelayMS > MaxDelay.Milliseconds() {
			return httpapi.Errorf(http.StatusBadRequest, "%s: invalid option: field opts.delay_ms: must be between 0 and %d", name, MaxDelay.Milliseconds())
		}
		if o.Attempts < 0 {
			return httpapi.Errorf(http.StatusBadRequest, "%s: invalid option: field opts.attempts: must be between 1 and %d", name, MaxAttempts)
		}
		opts = &EnqueueOptions{Delay: time.Duration(o.DelayMS) * time.Millisecond, Priority: o.Priority, Attempts: o.Attempts, JobID: o.JobID}
	}
	res, err := d.Enqueue(r.Context(), name, req.Name, req.Data, opts)
	if err != nil {
		return httpError(err)
	}
	// 202: stored, a worker will run it. 200: ran now (sync mode), or the
	// custom job_id was already taken and nothing was stored (duplicate).
	status := http.StatusOK
	if res.Mode == ModeQueued && !res.Duplicate {
		status = http.StatusAccepted
	}
	httpjson.Write(w, status, res)
	return nil
}

// httpError maps the package's errors to HTTP statuses with messages safe
// to show.
func httpError(err error) error {
	var ve *ValidationError
	var jf *JobFailedError
	var oe *queue.OptionError
	switch {
	case errors.As(err, &ve):
		return &httpapi.Error{Status: http.StatusBadRequest, Message: ve.Error(), Err: err}
	case errors.As(err, &oe):
		return &httpapi.Error{Status: http.StatusBadRequest, Message: oe.Error(), Err: err}
	case errors.Is(err, ErrUnknownQueue):
		return &httpapi.Error{Status: http.StatusNotFound, Message: ClientMessage(err), Err: err}
	case errors.Is(err, queue.ErrJobNotFound):
		return &httpapi.Error{Status: http.StatusNotFound, Message: "job not found", Err: err}
	case errors.Is(err, ErrRedisUnavailable):
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Message: ClientMessage(err), Err: err}
	case errors.Is(err, ErrInlineBusy):
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Message: ClientMessage(err), Err: err, RetryAfter: time.Second}
	case errors.As(err, &jf):
		if errors.Is(err, ErrInvalidPayload) {
			return &httpapi.Error{Status: http.StatusBadRequest, Message: truncate(jf.Error(), 500), Err: err}
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return &httpapi.Error{Status: http.StatusGatewayTimeout, Message: truncate(jf.Error(), 500), Err: err}
		}
		return &httpapi.Error{Status: http.StatusInternalServerError, Message: truncate(jf.Error(), 500), Err: err}
	}
	if redisconn.IsConnError(err) {
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Message: "Redis did not answer; try again", Err: err}
	}
	return err
}
