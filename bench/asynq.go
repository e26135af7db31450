package main

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
)

const asynqTaskType = "bench"

// asynqDriver runs asynq with its defaults (1 s TaskCheckInterval, the
// "default" queue), only Concurrency, Retention and the log level set.
type asynqDriver struct {
	s      spec
	pc, wc *redis.Client // producer, worker
	client *asynq.Client
}

func newAsynqDriver(s spec) (driver, error) {
	d := &asynqDriver{s: s, pc: newClient(s, 64), wc: newClient(s, 64)}
	d.client = asynq.NewClientFromRedisClient(d.pc)
	return d, nil
}

func (d *asynqDriver) close() error {
	err := d.client.Close() // shared connection: does not close pc
	d.pc.Close()
	d.wc.Close()
	return err
}

func (d *asynqDriver) enqueue(ctx context.Context, data []byte, keep bool) error {
	opts := []asynq.Option{}
	if keep {
		opts = append(opts, asynq.Retention(24*time.Hour))
	}
	_, err := d.client.EnqueueContext(ctx, asynq.NewTask(asynqTaskType, data), opts...)
	return err
}

func benchPayload(i int) []byte {
	b, _ := json.Marshal(struct {
		I int `json:"i"`
	}{i})
	return b
}

func (d *asynqDriver) addSerial(ctx context.Context, n int) error {
	for i := 0; i < n; i++ {
		if err := d.enqueue(ctx, benchPayload(i), false); err != nil {
			return err
		}
	}
	return nil
}

// addBulk: asynq has no batch enqueue, so producers goroutines share the n
// adds, each awaited.
func (d *asynqDriver) addBulk(ctx context.Context, n, _, producers int) error {
	return d.parallel(ctx, n, producers, false)
}

func (d *asynqDriver) prefill(ctx context.Context, n int, keep bool) error {
	return d.parallel(ctx, n, 50, keep)
}

func (d *asynqDriver) parallel(ctx context.Context, n, producers int, keep bool) error {
	g, ctx := errgroup.WithContext(ctx)
	for p := 0; p < producers; p++ {
		g.Go(func() error {
			for i := p; i < n; i += producers {
				if err := d.enqueue(ctx, benchPayload(i), keep); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

func (d *asynqDriver) add(ctx context.Context, data []byte) error {
	return d.enqueue(ctx, data, false)
}

func (d *asynqDriver) counts(ctx context.Context) (counts, error) {
	var c counts
	q := "asynq:{default}:"
	cmds, err := d.pc.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.LLen(ctx, q+"pending")
		p.LLen(ctx, q+"active")
		p.ZCard(ctx, q+"completed")
		return nil
	})
	if err != nil {
		return c, err
	}
	c.waiting, c.active, c.completed = cmds[0].(*redis.IntCmd).Val(), cmds[1].(*redis.IntCmd).Val(), cmds[2].(*redis.IntCmd).Val()
	return c, nil
}

type asynqWorker struct {
	srv *asynq.Server
	h   hooks
}

// newWorker builds an asynq server. asynq has no completion callback, so a
// go-redis hook on the worker's client watches the replies of its two
// completion scripts (Done: 5 keys, the 4th the daily processed counter;
// MarkAsComplete: 6 keys, the 3rd the completed set) and reports the task
// id once Redis has acknowledged it, the same moment BullMQ's `completed`
// event marks.
func (d *asynqDriver) newWorker(concurrency int, _ bool, h hooks) (benchWorker, error) {
	d.wc.AddHook(doneHook{h: h})
	srv := asynq.NewServerFromRedisClient(d.wc, asynq.Config{
		Concurrency:     concurrency,
		Queues:          map[string]int{"default": 1},
		LogLevel:        asynq.WarnLevel,
		ShutdownTimeout: 5 * time.Second,
	})
	return &asynqWorker{srv: srv, h: h}, nil
}

func (w *asynqWorker) start(context.Context) error {
	return w.srv.Start(asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		if w.h.onStart != nil {
			id, _ := asynq.GetTaskID(ctx)
			w.h.onStart(id, t.Payload())
		}
		return nil
	}))
}

func (w *asynqWorker) close(context.Context) error {
	w.srv.Shutdown()
	return nil
}

type doneHook struct{ h hooks }

func (doneHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (doneHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (dh doneHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil && cmd.Err() == nil {
			if id, ok := asynqCompletedID(cmd.Args()); ok {
				dh.h.onComplete(id)
			}
		}
		return err
	}
}

// asynqCompletedID recognises asynq's Done and MarkAsComplete script calls
// by their keys and returns the task id.
func asynqCompletedID(args []any) (string, bool) {
	if len(args) < 3 {
		return "", false
	}
	name, _ := args[0].(string)
	if name != "evalsha" && name != "eval" {
		return "", false
	}
	nk, ok := args[2].(int)
	if !ok || len(args) < 3+nk || (nk != 5 && nk != 6 && nk != 7) {
		return "", false
	}
	key := func(i int) string { s, _ := args[3+i].(string); return s }
	if !strings.HasSuffix(key(0), ":active") || !strings.HasSuffix(key(1), ":lease") {
		return "", false
	}
	var task string
	switch {
	case strings.Contains(key(3), ":processed:") && strings.Contains(key(2), ":t:"): // Done
		task = key(2)
	case strings.HasSuffix(key(2), ":completed") && strings.Contains(key(3), ":t:"): // MarkAsComplete
		task = key(3)
	default:
		return "", false
	}
	return task[strings.LastIndex(task, ":t:")+3:], true
}

// newClient is a go-redis client with its default timeouts and a pool large
// enough for 50 concurrent producers or handlers.
func newClient(s spec, pool int) *redis.Client {
	o := &redis.Options{Addr: s.Addr, PoolSize: pool}
	if s.SlowRedis {
		// A server under valgrind answers a 1,000-job pipeline in seconds.
		o.ReadTimeout, o.WriteTimeout = time.Minute, time.Minute
	}
	return redis.NewClient(o)
}
