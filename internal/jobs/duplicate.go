package jobs

import (
	"context"

	"github.com/zyeute/zyeute-redis/queue"
)

// ModeDuplicate is the Observer mode of an add answered with an existing
// job: the custom id was taken, nothing was stored.
const ModeDuplicate = "duplicate"

// queuedResult is the Result of an add that reached Redis. When the custom
// id was already taken (or the add was deduplicated) nothing was stored:
// the result says so, with the existing job's id and its state now (read
// with the caller's ctx; "" if that read fails), and the add is counted as
// a duplicate, not as enqueued.
func (d *Dispatcher) queuedResult(ctx context.Context, queueName, name, id string, outcome queue.AddOutcome) *Result {
	res := &Result{Queue: queueName, Name: name, Mode: ModeQueued, ID: id}
	if outcome == queue.Added {
		d.obs.JobEnqueued(queueName, string(ModeQueued))
		return res
	}
	d.obs.JobEnqueued(queueName, ModeDuplicate)
	res.Duplicate = true
	actx, cancel := context.WithTimeout(ctx, d.cfg.AddTimeout)
	defer cancel()
	if st, err := d.queues[queueName].GetState(actx, id); err == nil {
		res.State = string(st)
	}
	return res
}
