// Command goworker is a Go queue worker in its own process, for the interop
// suite's crash tests: the test SIGKILLs it while it holds a job and checks
// that a Node BullMQ worker recovers the job. It speaks the Node peer's
// protocol: one JSON object per line on stdout ({"type":"ready"},
// {"type":"started","id":…}, {"type":"completed","id":…}, {"type":"done"}).
//
//	goworker -addr 127.0.0.1:6379 -queue q [-prefix bull] [-name w]
//	         [-mode hang|work] [-lock-duration 1s] [-stalled-interval 30s]
//
// In hang mode the handler never returns (until the process dies); in work
// mode it returns {"ok":true}. SIGTERM or SIGINT closes the worker.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zyeute/zyeute-redis/queue"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "goworker:", err)
		os.Exit(1)
	}
}

type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) out(v map[string]any) {
	b, _ := json.Marshal(v)
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = p.w.Write(append(b, '\n'))
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("goworker", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:6379", "Redis address")
	name := fs.String("queue", "", "queue name (required)")
	prefix := fs.String("prefix", queue.DefaultPrefix, "key prefix")
	wname := fs.String("name", "", "worker name")
	mode := fs.String("mode", "hang", "hang or work")
	lock := fs.Duration("lock-duration", time.Second, "lock duration")
	stalled := fs.Duration("stalled-interval", 30*time.Second, "stalled check interval")
	concurrency := fs.Int("concurrency", 1, "concurrency")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" {
		return errors.New("-queue is required")
	}
	if *mode != "hang" && *mode != "work" {
		return fmt.Errorf("-mode must be hang or work, got %q", *mode)
	}
	p := &printer{w: stdout}
	c := redis.NewClient(&redis.Options{Addr: *addr})
	defer c.Close()
	h := func(hctx context.Context, job *queue.Job) (any, error) {
		p.out(map[string]any{"type": "started", "id": job.ID, "ts": time.Now().UnixMilli()})
		if *mode == "hang" {
			<-hctx.Done() // until Close gives up on it (or the process is killed)
			return nil, hctx.Err()
		}
		return map[string]any{"ok": true}, nil
	}
	w, err := queue.NewWorker(c, *name, h, &queue.WorkerOptions{
		Prefix: *prefix, Name: *wname, Concurrency: *concurrency,
		LockDuration: *lock, StalledInterval: *stalled, DrainDelay: time.Second,
		OnEvent: func(ev queue.WorkerEvent) {
			switch ev.Type {
			case queue.EventCompleted:
				p.out(map[string]any{"type": "completed", "id": ev.JobID})
			case queue.EventFailed:
				p.out(map[string]any{"type": "failed", "id": ev.JobID, "reason": errString(ev.Err), "final": true})
			}
		},
	})
	if err != nil {
		return err
	}
	if err := w.Start(ctx); err != nil {
		return err
	}
	p.out(map[string]any{"type": "ready"})
	<-ctx.Done()
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = w.Close(cctx)
	p.out(map[string]any{"type": "done"})
	return err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
