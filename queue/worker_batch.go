package queue

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
)

// Group commit of finishes. Every finish of a worker (complete, fail for
// good, retry) is one record of the moveToFinished script. While a call is
// in flight, the finishes that arrive meanwhile queue up; when it returns,
// the first of them sends every queued record (at most maxFinishBatch) in
// one call. Nothing waits for a batch to fill: a finish with nothing in
// flight is sent at once, alone. The script handles the records in order,
// each as a call of its own would (lock checked, events written, refusal
// returned to that job), so only the script's fixed cost is shared.

// maxFinishBatch bounds the records of one moveToFinished call.
const maxFinishBatch = 64

// finishHeaderArgs is the number of ARGV before the first record.
const finishHeaderArgs = 7

// finishHeader returns moveToFinished's ARGV header (prefix, now, lock
// duration, rate limit, worker name, metrics bound) with room for nrec
// more arguments: the records.
func (w *Worker) finishHeader(now int64, nrec int) []any {
	return append(make([]any, 0, finishHeaderArgs+nrec),
		w.k.base, now, w.lockMs, w.limMax, w.limDur, w.opts.Name, w.metricsMax)
}

// finishReq is one job's record waiting for, or sent in, a batch.
type finishReq struct {
	job   *Job
	token string
	rec   []any // the record: kind, id, token, …

	// Set by the call's sender before ready is closed.
	res          any
	maybeApplied bool
	err          error
	lead         bool          // ready closed to make this one send the next batch
	ready        chan struct{} // closed once: results set, or lead
}

// finishBatcher holds the records waiting while a call is in flight.
// Invariant: busy is false only when nothing is pending.
type finishBatcher struct {
	mu      sync.Mutex
	busy    bool
	pending []*finishReq
}

// finishRecord sends one job's record (alone or in a batch) and returns
// that job's reply: the fetched next job (or 0), or its refusal as an
// error. maybeApplied as in finishRun.
func (w *Worker) finishRecord(job *Job, token string, rec ...any) (res any, maybeApplied bool, err error) {
	r := &finishReq{job: job, token: token, rec: rec, ready: make(chan struct{})}
	b := &w.batch
	b.mu.Lock()
	b.pending = append(b.pending, r)
	if b.busy {
		b.mu.Unlock()
		<-r.ready
		if !r.lead {
			return r.res, r.maybeApplied, r.err
		}
		b.mu.Lock()
	}
	// r is pending[0]: this goroutine sends the next batch.
	b.busy = true
	n := min(len(b.pending), maxFinishBatch)
	batch := make([]*finishReq, n)
	copy(batch, b.pending)
	b.pending = append(b.pending[:0], b.pending[n:]...)
	b.mu.Unlock()

	w.sendFinishes(batch)

	b.mu.Lock()
	if len(b.pending) > 0 {
		b.pending[0].lead = true
		close(b.pending[0].ready)
	} else {
		b.busy = false
	}
	b.mu.Unlock()
	for _, o := range batch[1:] {
		close(o.ready)
	}
	return r.res, r.maybeApplied, r.err
}

// sendFinishes runs one moveToFinished call for batch and sets each
// record's result. A script error (not a refusal, which is per record)
// stops the script midway with the records before it applied: each
// record is then sent again alone, and a record already applied is
// refused as gone and recognised as done (finishedBefore).
func (w *Worker) sendFinishes(batch []*finishReq) {
	nrec := 0
	for _, r := range batch {
		nrec += len(r.rec)
	}
	args := w.finishHeader(0, nrec) // now (args[1]) set per send below
	for _, r := range batch {
		args = append(args, r.rec...)
	}
	fallback := w.now() + w.lockMs
	deadline := func() int64 {
		var d int64
		for i, r := range batch {
			if e := w.lockExpiry(r.job.ID, r.token, fallback); i == 0 || e < d {
				d = e
			}
		}
		return d
	}
	res, maybeApplied, err := w.finishRun(deadline, func(ctx context.Context) (any, error) {
		args[1] = w.now()
		return scriptMoveToFinished.run(ctx, w.c, batch[0].job.ID, w.wkeys, args...)
	})
	if err == nil {
		replies, ok := res.([]any)
		if ok && len(replies) == len(batch) {
			for i, r := range batch {
				r.res, r.maybeApplied = replies[i], maybeApplied
				if code, ok := replies[i].(int64); ok && code < 0 {
					r.res, r.err = nil, codeError(scriptMoveToFinished.name, r.job.ID, code)
				}
			}
			return
		}
		err = errors.New("queue: moveToFinished: unexpected reply shape")
	}
	if len(batch) > 1 && !transient(err) {
		w.log.Warn("[Queue] a batch of finishes failed; sending them one by one",
			slog.Int("jobs", len(batch)), slog.String("error", err.Error()))
		for _, r := range batch {
			w.sendFinishes([]*finishReq{r})
			r.maybeApplied = true // the batch may have applied it before failing
		}
		return
	}
	for _, r := range batch {
		r.res, r.maybeApplied, r.err = nil, maybeApplied, err
	}
}

// keepArg encodes retention for a record: the count, or
// "count,age,limit" when an age is set (age in seconds, fractional).
func keepArg(count int64, age float64, limit int64) string {
	c := strconv.FormatInt(count, 10)
	if age <= 0 {
		return c
	}
	return c + "," + strconv.FormatFloat(age, 'f', -1, 64) + "," + strconv.FormatInt(limit, 10)
}
