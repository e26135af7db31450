package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/queue"
	"github.com/zyeute/zyeute-redis/redisconn"
)

// fail is the one place where an error of a queue subcommand becomes what
// the user reads: built from the typed errors of package queue and their
// fields, never from their text, so every message reads
// "queue <op>: <what happened>" once (main adds "zyeute: "). A refused
// name or option is a usage error (exit 2); the rest exit 1. Values from
// Redis or the command line are escaped.
func (q *queueEnv) fail(op, name, id string, err error) error {
	job := termSafe(name) + "/" + termSafe(id)
	var (
		ne *queue.NameError
		oe *queue.OptionError
		se *queue.StateError
		re redis.Error
	)
	switch {
	case errors.As(err, &ne):
		return usageErr("%s: %s", op, ne.Reason)
	case errors.As(err, &oe):
		return usageErr("%s: invalid %s: %s", op, oe.Option, oe.Reason)
	case errors.Is(err, queue.ErrNoHashTag):
		return usageErr("%s: on Redis Cluster the keys of queue %s must share one slot: use a hash-tagged QUEUE_PREFIX such as {%s} or a queue name such as {%s}",
			op, termSafe(name), termSafe(strings.Trim(q.prefix, "{}")), termSafe(name))
	case errors.Is(err, queue.ErrDataTooLarge):
		return usageErr("%s: the job data is too large", op)
	case errors.As(err, &se):
		want := make([]string, len(se.Want))
		for i, s := range se.Want {
			want[i] = string(s)
		}
		return q.failf(op, "job %s is %s, not %s", job, se.Found, strings.Join(want, " or "))
	case errors.Is(err, queue.ErrJobNotFound):
		return q.failf(op, "job %s not found", job)
	case errors.Is(err, queue.ErrJobLocked):
		return q.failf(op, "job %s is being processed by a worker (it holds the lock); try again when it has finished", job)
	case errors.Is(err, queue.ErrSchedulerJob):
		return q.failf(op, "job %s is the next iteration of a job scheduler; remove the scheduler instead", job)
	case errors.Is(err, queue.ErrActiveJobs):
		return q.failf(op, "the queue has active jobs; wait for them to finish or pass --force")
	case errors.Is(err, queue.ErrNotPaused):
		return q.failf(op, "the queue was resumed while it was being obliterated; run it again")
	case errors.As(err, &re):
		return q.failf(op, "Redis refused it: %s", re.Error())
	}
	return q.failf(op, "%s", redisconn.Explain(err))
}

// failf is a runtime failure (exit 1) of op.
func (q *queueEnv) failf(op, format string, a ...any) error {
	return &exitError{code: exitFailure, err: errors.New(escapeControls("queue " + op + ": " + fmt.Sprintf(format, a...)))}
}
