package queue

import (
	"log/slog"
	"time"
)

// renewLoop extends the locks of this worker's running jobs on its own
// goroutine, so CPU-bound handlers never starve it. Every
// LockRenewTime/2 it renews, in one script call per 1000 jobs, the locks
// last renewed at least LockRenewTime/2 ago. A lock found missing or taken
// cancels that job's context (cause ErrLockLost).
func (w *Worker) renewLoop() {
	defer w.loops.Done()
	period := max(w.opts.LockRenewTime/2, time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-w.stopped:
			// Keep renewing while jobs drain during Close.
			w.renewUntilDone(t)
			return
		case <-t.C:
			w.renewOnce(period)
		}
	}
}

func (w *Worker) renewUntilDone(t *time.Ticker) {
	period := max(w.opts.LockRenewTime/2, time.Millisecond)
	for {
		select {
		case <-w.runCtx.Done():
			return
		case <-t.C:
			w.renewOnce(period)
		}
	}
}

func (w *Worker) renewOnce(period time.Duration) {
	now := w.now()
	threshold := period.Milliseconds()
	var due []*activeJob
	w.mu.Lock()
	for _, aj := range w.active {
		if !aj.lost.Load() && now-aj.lastRenew.Load() >= threshold {
			due = append(due, aj)
		}
	}
	w.mu.Unlock()
	for len(due) > 0 {
		n := min(len(due), 1000)
		batch := due[:n]
		due = due[n:]
		args := make([]any, 0, 2+2*n)
		args = append(args, w.k.base, w.lockMs)
		for _, aj := range batch {
			args = append(args, aj.job.ID, aj.token)
		}
		res, err := scriptExtendLocks.run(w.runCtx, w.c, "", []string{w.k.stalled()}, args...)
		if err != nil {
			if w.runCtx.Err() == nil {
				w.renewEp.fail(err)
				w.emitEvent(WorkerEvent{Type: EventError, Err: err})
			}
			return
		}
		w.renewEp.ok()
		failed := map[string]bool{}
		if arr, ok := res.([]any); ok {
			for _, v := range arr {
				if s, ok := v.(string); ok {
					failed[s] = true
				}
			}
		}
		for _, aj := range batch {
			if failed[aj.job.ID] {
				aj.lost.Store(true)
				aj.cancel(ErrLockLost)
				w.log.Warn("queue: could not renew lock; job context cancelled", slog.String("job", aj.job.ID))
				w.emitEvent(WorkerEvent{Type: EventLockLost, JobID: aj.job.ID, Job: aj.job, Err: ErrLockLost})
			} else {
				aj.lastRenew.Store(now)
			}
		}
	}
}

// stalledLoop runs the stalled check at start and every StalledInterval.
// The `stalled-check` key makes it run once per interval per queue,
// whichever worker (Go or Node) gets there first.
func (w *Worker) stalledLoop() {
	defer w.loops.Done()
	bo := retryBackoff{min: 100 * time.Millisecond, max: 5 * time.Second}
	for {
		wait := w.opts.StalledInterval
		if err := w.checkStalled(); err != nil {
			if w.closing.Load() {
				return
			}
			w.stalledEp.fail(err)
			w.emitEvent(WorkerEvent{Type: EventError, Err: err})
			wait = min(bo.next(), w.opts.StalledInterval)
		} else {
			bo.reset()
			w.stalledEp.ok()
		}
		if !w.sleep(wait) {
			return
		}
	}
}

func (w *Worker) checkStalled() error {
	res, err := scriptStalledCheck.run(w.runCtx, w.c, "", w.wkeys,
		w.k.base, *w.opts.MaxStalledCount, w.now(), w.opts.StalledInterval.Milliseconds())
	if err != nil {
		return err
	}
	arr, _ := res.([]any)
	for _, v := range arr {
		id, _ := v.(string)
		w.log.Warn("queue: stalled job moved back to wait", slog.String("job", id))
		w.emitEvent(WorkerEvent{Type: EventStalled, JobID: id})
	}
	return nil
}
