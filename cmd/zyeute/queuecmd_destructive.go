package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// destroyer is what clean, drain and obliterate need of a queue: Node
// BullMQ's queue.clean, queue.drain and queue.obliterate.
type destroyer interface {
	Clean(ctx context.Context, grace time.Duration, limit int, state queue.JobState) ([]string, error)
	Drain(ctx context.Context, delayed bool) error
	// Obliterate deletes the queue; force: even while jobs are active;
	// count: jobs deleted per script call (0: the default).
	Obliterate(ctx context.Context, force bool, count int) error
}

// destroyerFor returns q's destructive operations.
func destroyerFor(q *queue.Queue) destroyer { return queueDestroyer{q} }

// queueDestroyer adapts *queue.Queue to destroyer.
type queueDestroyer struct{ *queue.Queue }

func (d queueDestroyer) Obliterate(ctx context.Context, force bool, count int) error {
	return d.Queue.Obliterate(ctx, &queue.ObliterateOptions{Force: force, Count: count})
}

// cleanStates are the states `queue clean` takes, as Node's queue.clean.
var cleanStates = map[string]queue.JobState{
	"completed": queue.StateCompleted, "failed": queue.StateFailed, "delayed": queue.StateDelayed,
	"prioritized": queue.StatePrioritized, "active": queue.StateActive, "waiting": queue.StateWaiting,
	"wait": queue.StateWaiting, "paused": queue.StatePaused,
}

// maxConfirmLine bounds the confirmation answer read.
const maxConfirmLine = 1024

// confirm asks the user to type the queue's name, unless --force. Anything
// else, or no answer (stdin closed or not a terminal), aborts (exit 1).
func (q *queueEnv) confirm(op string, f *queueFlags, qq *queue.Queue, what string) error {
	if f.force {
		return nil
	}
	fmt.Fprintf(q.e.stderr, "%s %s: this deletes %s under the prefix %s and cannot be undone.\nType the queue name to confirm (or pass --force): ",
		op, termSafe(qq.Name()), what, termSafe(q.prefix))
	var answer string
	if q.in != nil {
		r := bufio.NewReaderSize(q.in, maxConfirmLine)
		line, err := r.ReadSlice('\n')
		if err == nil || len(line) > 0 {
			answer = strings.TrimRight(string(line), "\r\n")
		}
	}
	fmt.Fprintln(q.e.stderr)
	if answer != qq.Name() {
		if answer == "" {
			return q.failf(op, "aborted: no confirmation (pass --force to skip the prompt)")
		}
		return q.failf(op, "aborted: %s is not the queue name", termSafe(truncateRunes(answer, 40)))
	}
	return nil
}

// countOf sums the jobs of states, for the confirmation prompt.
func (q *queueEnv) countOf(ctx context.Context, qq *queue.Queue, states ...queue.JobState) (int64, error) {
	counts, err := qq.GetJobCounts(ctx, states...)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, c := range counts {
		n += c
	}
	return n, nil
}

// openExisting opens queue name for a destructive op; the queue must exist.
func (q *queueEnv) openExisting(ctx context.Context, op, name string) (*queue.Queue, func(), error) {
	qq, closeFn, err := q.open(ctx, op, name)
	if err != nil {
		return nil, nil, err
	}
	if err := q.mustExist(ctx, op, qq); err != nil {
		closeFn()
		return nil, nil, err
	}
	return qq, closeFn, nil
}

func (q *queueEnv) clean(ctx context.Context, f *queueFlags, pos []string) error {
	name := pos[0]
	state, ok := cleanStates[pos[1]]
	if !ok {
		return usageErr("clean: unknown state %q (one of completed, failed, delayed, prioritized, active, waiting, paused)", truncateArg(pos[1]))
	}
	if f.grace < 0 || f.limit < 0 {
		return usageErr("clean: --grace and --limit must not be negative")
	}
	qq, closeFn, err := q.openExisting(ctx, "clean", name)
	if err != nil {
		return err
	}
	defer closeFn()
	n, err := q.countOf(ctx, qq, state)
	if err != nil {
		return q.fail("clean", name, "", err)
	}
	what := fmt.Sprintf("the %s jobs older than %s (%d now", state, f.grace, n)
	if f.limit > 0 {
		what += fmt.Sprintf(", at most %d", f.limit)
	}
	if err := q.confirm("clean", f, qq, what+")"); err != nil {
		return err
	}
	ids, err := q.destroy(qq).Clean(ctx, f.grace, f.limit, state)
	if err != nil {
		return q.fail("clean", name, "", err)
	}
	if ids == nil {
		ids = []string{}
	}
	if f.json {
		return writeJSON(q.e.stdout, map[string]any{"queue": name, "state": state, "deleted": ids})
	}
	fmt.Fprintf(q.e.stdout, "%s: %d %s job(s) deleted\n", termSafe(name), len(ids), state)
	return nil
}

func (q *queueEnv) drain(ctx context.Context, f *queueFlags, pos []string) error {
	name := pos[0]
	qq, closeFn, err := q.openExisting(ctx, "drain", name)
	if err != nil {
		return err
	}
	defer closeFn()
	states := []queue.JobState{queue.StateWaiting, queue.StatePrioritized, queue.StatePaused}
	what := "the waiting and prioritized jobs"
	if f.delayed {
		states = append(states, queue.StateDelayed)
		what = "the waiting, prioritized and delayed jobs"
	}
	n, err := q.countOf(ctx, qq, states...)
	if err != nil {
		return q.fail("drain", name, "", err)
	}
	if err := q.confirm("drain", f, qq, fmt.Sprintf("%s (%d now)", what, n)); err != nil {
		return err
	}
	if err := q.destroy(qq).Drain(ctx, f.delayed); err != nil {
		return q.fail("drain", name, "", err)
	}
	fmt.Fprintf(q.e.stdout, "%s drained\n", termSafe(name))
	return nil
}

func (q *queueEnv) obliterate(ctx context.Context, f *queueFlags, pos []string) error {
	name := pos[0]
	qq, closeFn, err := q.openExisting(ctx, "obliterate", name)
	if err != nil {
		return err
	}
	defer closeFn()
	n, err := q.countOf(ctx, qq)
	if err != nil {
		return q.fail("obliterate", name, "", err)
	}
	if err := q.confirm("obliterate", f, qq, fmt.Sprintf("the queue and all its jobs (%d now)", n)); err != nil {
		return err
	}
	if err := q.destroy(qq).Obliterate(ctx, f.includeActive, 0); err != nil {
		return q.fail("obliterate", name, "", err)
	}
	fmt.Fprintf(q.e.stdout, "%s obliterated\n", termSafe(name))
	return nil
}
