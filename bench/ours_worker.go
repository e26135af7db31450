//go:build !noworker

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/zyeute/zyeute-redis/queue"
)

// oursHasWorker says the worker scenarios of ours are built in (see
// ours_noworker.go).
const oursHasWorker = true

type oursWorker struct{ w *queue.Worker }

// newWorker builds our worker with its defaults (5 s DrainDelay, 30 s
// locks and stalled interval), only Concurrency and RemoveOnComplete set.
// Completions are counted from EventCompleted, emitted once Redis has
// acknowledged moveToFinished, like BullMQ's `completed` event.
func (d *oursDriver) newWorker(concurrency int, remove bool, h hooks) (benchWorker, error) {
	opts := &queue.WorkerOptions{
		Concurrency: concurrency,
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		OnEvent: func(ev queue.WorkerEvent) {
			switch ev.Type {
			case queue.EventCompleted:
				h.onComplete(ev.JobID)
			case queue.EventError, queue.EventFailed, queue.EventLockLost:
				fmt.Fprintf(os.Stderr, "ours worker: %s job %q: %v\n", ev.Type, ev.JobID, ev.Err)
			}
		},
	}
	if remove {
		opts.RemoveOnComplete = queue.RemoveAll()
	}
	handler := func(_ context.Context, j *queue.Job) (any, error) {
		if h.onStart != nil {
			h.onStart(j.ID, j.Data)
		}
		return nil, nil
	}
	w, err := queue.NewWorker(d.wc, d.s.Queue, handler, opts)
	if err != nil {
		return nil, err
	}
	return &oursWorker{w: w}, nil
}

func (o *oursWorker) start(ctx context.Context) error { return o.w.Start(ctx) }
func (o *oursWorker) close(ctx context.Context) error { return o.w.Close(ctx) }
