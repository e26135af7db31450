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
	w.extendLocks(w.locksDue(w.now(), period.Milliseconds()))
}

// locksDue snapshots the running jobs whose lock was last renewed at least
// threshold ms before now.
func (w *Worker) locksDue(now, threshold int64) []*activeJob {
	var due []*activeJob
	w.mu.Lock()
	for _, aj := range w.active {
		if !aj.lost.Load() && now-aj.lastRenew.Load() >= threshold {
			due = append(due, aj)
		}
	}
	w.mu.Unlock()
	return due
}

// extendLocks renews the locks of due, in one script call per 1000 jobs.
// A job whose renewal is refused lost its lock, unless it finished (or
// started finishing) after the snapshot: the finish took the lock.
func (w *Worker) extendLocks(due []*activeJob) {
	for len(due) > 0 {
		n := min(len(due), 1000)
		batch := due[:n]
		due = due[n:]
		args := make([]any, 0, 2+2*n)
		args = append(args, w.k.base, w.lockMs)
		for _, aj := range batch {
			args = append(args, aj.job.ID, aj.token)
		}
		now := w.now()
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
			if !failed[aj.job.ID] {
				aj.lastRenew.Store(now)
				continue
			}
			if aj.finishing.Load() || !w.tracked(aj) || !aj.lost.CompareAndSwap(false, true) {
				continue
			}
			aj.cancel(ErrLockLost)
			w.log.Warn("[Queue] could not renew lock; job context cancelled", slog.String("job", aj.job.ID))
			w.emitEvent(WorkerEvent{Type: EventLockLost, JobID: aj.job.ID, Job: aj.job, Err: ErrLockLost})
		}
	}
}

// stalledLoop runs the stalled check at start and every StalledInterval.
// The `stalled-check` key makes it run once per interval per queue,
// whichever worker (Go or Node) gets there first.
func (w *Worker) stalledLoop() {
	defer w.loops.Done()
	bo := retryBackoff{min: 100 * time.Millisecond, max: 5 * time.Second}
	// The first check of a starting worker runs even when `stalled-check`
	// is set: the key may be a dead worker's, whose jobs would otherwise
	// wait for this worker's second check to be snapshotted and its third
	// to come back (about 2·StalledInterval instead of at most
	// LockDuration + StalledInterval).
	force := true
	for {
		wait := w.opts.StalledInterval
		if err := w.stalledCheck(force); err != nil {
			if w.closing.Load() {
				return
			}
			w.stalledEp.fail(err)
			w.emitEvent(WorkerEvent{Type: EventError, Err: err})
			wait = min(bo.next(), w.opts.StalledInterval)
		} else {
			force = false
			bo.reset()
			w.stalledEp.ok()
		}
		if !w.sleep(wait) {
			return
		}
	}
}

// checkStalled runs one stalled check, unless another ran this interval.
func (w *Worker) checkStalled() error { return w.stalledCheck(false) }

// stalledCheck runs one stalled check; force runs it even when another
// checker ran this interval.
func (w *Worker) stalledCheck(force bool) error {
	res, err := scriptStalledCheck.run(w.runCtx, w.c, "", w.wkeys,
		w.k.base, *w.opts.MaxStalledCount, w.now(), w.opts.StalledInterval.Milliseconds(), boolArg(force))
	if err != nil {
		return err
	}
	arr, _ := res.([]any)
	for _, v := range arr {
		id, _ := v.(string)
		w.log.Warn("[Queue] stalled job moved back to wait", slog.String("job", id))
		w.emitEvent(WorkerEvent{Type: EventStalled, JobID: id})
	}
	return nil
}
