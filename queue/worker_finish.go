package queue

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Finishing a job (complete, fail, retry) must survive a Redis blip: the
// result is only lost if the lock is. finishRun retries a finishing script
// on transient errors, with backoff, for as long as the job's lock may
// still be valid; the lock renewal goes on meanwhile, so a renewal that
// gets through pushes the bound further.

// transient reports whether err is a Redis failure worth retrying: the
// connection (refused, reset, timeout, EOF, pool exhausted) or a server
// state that passes (LOADING, BUSY, READONLY during a failover, …). Script
// refusals (negative codes) and script errors are not.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, redis.ErrClosed) {
		return false
	}
	for _, e := range codeErrors {
		if errors.Is(err, e) {
			return false
		}
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, p := range []string{"LOADING", "BUSY", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN"} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	return true
}

// lockExpiry is the earliest time (ms) the lock of job id held with token
// can expire: its last renewal plus the lock duration. fallback is used
// for a job this worker does not track.
func (w *Worker) lockExpiry(id, token string, fallback int64) int64 {
	w.mu.Lock()
	aj := w.active[id]
	w.mu.Unlock()
	if aj != nil && aj.token == token {
		return aj.lastRenew.Load() + w.lockMs
	}
	return fallback
}

// finishRun runs one finishing script call, retrying transient errors with
// capped backoff (50 ms → 1 s) until a lock of the jobs it finishes may
// have expired (deadline: the earliest expiry, ms) or the worker's Redis
// context ends. maybeApplied is true when an attempt failed in a way that
// does not tell whether Redis ran it (the reply was lost): a later refusal
// may then be the echo of that attempt's success.
func (w *Worker) finishRun(deadline func() int64, call func(context.Context) (any, error)) (res any, maybeApplied bool, err error) {
	bo := retryBackoff{min: 50 * time.Millisecond, max: time.Second}
	for {
		res, err = call(w.runCtx)
		if !transient(err) || w.runCtx.Err() != nil {
			return res, maybeApplied, err
		}
		maybeApplied = true
		w.finishEp.fail(err)
		left := time.Duration(deadline()-w.now()) * time.Millisecond
		if left <= 0 {
			return nil, true, err
		}
		t := time.NewTimer(min(bo.next(), left))
		select {
		case <-t.C:
		case <-w.runCtx.Done():
			t.Stop()
			return nil, true, err
		}
	}
}

// refusedAsGone reports whether a finishing script refused because the
// job's lock or the job itself is gone.
func refusedAsGone(err error) bool {
	return errors.Is(err, ErrLockMissing) || errors.Is(err, ErrLockMismatch) ||
		errors.Is(err, ErrNotInState) || errors.Is(err, ErrJobNotFound)
}

// finishedBefore decides, after a refusal because the lock or the job is
// gone, whether an earlier send of this very finish did the work: its
// reply was lost (maybeApplied), or go-redis re-sent the command after a
// timeout and the second execution was refused. It did when the job is in
// one of the states that finish leads to and still carries this run's
// processedOn with attemptsMade one higher than at the fetch (a stalled
// recovery changes neither atm nor, until the next fetch, processedOn, but
// does not count an attempt; a rerun elsewhere sets a new processedOn).
// gone: the finish removes the job (retention count 0); a job that is gone
// then counts only after a lost reply.
func (w *Worker) finishedBefore(job *Job, err error, maybeApplied, gone bool, want ...JobState) bool {
	if !refusedAsGone(err) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.runCtx), closeGrace)
	defer cancel()
	st, gerr := w.q.GetState(ctx, job.ID)
	if gerr != nil {
		return false
	}
	ok := false
	switch {
	case st == StateUnknown:
		ok = gone && maybeApplied
	case slices.Contains(want, st):
		f, herr := w.c.HMGet(ctx, w.k.job(job.ID), "processedOn", "atm").Result()
		if herr != nil || len(f) != 2 {
			return false
		}
		po, _ := f[0].(string)
		atm, _ := f[1].(string)
		ok = po == strconv.FormatInt(job.ProcessedOn, 10) && atm == strconv.Itoa(job.AttemptsMade+1)
	}
	if ok {
		w.log.Info("[Queue] a finish's reply was lost but Redis had applied it", slog.String("job", job.ID),
			slog.String("state", string(st)))
	}
	return ok
}
