package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// childEnv marks a process started by the orchestrator as a child: it then
// runs one scenario for a Go implementation and speaks the child protocol.
const childEnv = "ZYEUTE_BENCH_CHILD"

// hooks are called by a driver's worker. onStart runs inside the handler,
// onComplete once Redis has acknowledged the job's completion.
type hooks struct {
	onStart    func(id string, data []byte)
	onComplete func(id string)
}

type benchWorker interface {
	start(ctx context.Context) error
	close(ctx context.Context) error
}

// counts are what the correctness check needs from a queue.
type counts struct{ waiting, active, completed int64 }

// driver is one Go implementation (ours or asynq) behind the scenarios.
type driver interface {
	addSerial(ctx context.Context, n int) error
	addBulk(ctx context.Context, n, chunk, producers int) error
	// prefill adds n jobs quickly before the measured part; keep says the
	// jobs must be kept once completed (asynq decides that per task).
	prefill(ctx context.Context, n int, keep bool) error
	// add adds one job with the JSON data, for the latency producer.
	add(ctx context.Context, data []byte) error
	newWorker(concurrency int, remove bool, h hooks) (benchWorker, error)
	counts(ctx context.Context) (counts, error)
	close() error
}

// drivers builds each implementation's driver (ours.go, asynq.go).
var drivers = map[string]func(s spec) (driver, error){implOurs: newOursDriver, implAsynq: newAsynqDriver}

// childMain runs one scenario described by the JSON spec in arg.
func childMain(ctx context.Context, arg string, stdin io.Reader, stdout io.Writer) error {
	var s spec
	dec := json.NewDecoder(strings.NewReader(arg))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("child: spec: %w", err)
	}
	if err := s.validate(); err != nil {
		return err
	}
	if s.MemProfile != "" {
		// A finer sampling than the default 512 KiB, set before any work.
		runtime.MemProfileRate = 4096
	}
	mk, ok := drivers[s.Impl]
	if !ok {
		return fmt.Errorf("child: no Go driver for %q", s.Impl)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	d, err := mk(s)
	if err != nil {
		return err
	}
	defer d.close()
	c := &child{s: s, d: d, out: stdout, in: lines(stdin)}
	err = c.run(ctx)
	if err != nil {
		c.send(message{Phase: "error", Error: err.Error()})
	}
	return err
}

type child struct {
	s   spec
	d   driver
	out io.Writer
	in  <-chan string
	mu  sync.Mutex
}

func (c *child) send(m message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = c.out.Write(m.line())
}

// lines delivers stdin lines; the channel closes at EOF.
func lines(r io.Reader) <-chan string {
	ch := make(chan string, 4)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- strings.TrimSpace(sc.Text())
		}
	}()
	return ch
}

func (c *child) expect(ctx context.Context, want string) error {
	select {
	case <-ctx.Done():
		return fmt.Errorf("child: waiting for %q: %w", want, ctx.Err())
	case got, ok := <-c.in:
		if !ok {
			return fmt.Errorf("child: stdin closed while waiting for %q", want)
		}
		if got != want {
			return fmt.Errorf("child: got %q, want %q", got, want)
		}
		return nil
	}
}

func (c *child) run(ctx context.Context) error {
	s := c.s
	var (
		w        benchWorker
		n        = s.N
		done     = make(chan struct{})
		doneOnce sync.Once
		finished atomic.Int64
		pickup   = newRecorder(n)
		complete = newRecorder(n)
		addedAt  sync.Map // job id → add time (ns), for completion latency
	)
	h := hooks{onComplete: func(string) {
		if finished.Add(1) == int64(n) {
			doneOnce.Do(func() { close(done) })
		}
	}}
	if s.Kind == kindLatency {
		h.onStart = func(id string, data []byte) {
			now := time.Now().UnixNano()
			var p struct{ T int64 }
			if err := json.Unmarshal(data, &p); err != nil || p.T == 0 {
				return
			}
			pickup.add(float64(now-p.T) / 1e6)
			addedAt.Store(id, p.T)
		}
		h.onComplete = func(id string) {
			now := time.Now().UnixNano()
			if t, ok := addedAt.LoadAndDelete(id); ok {
				complete.add(float64(now-t.(int64)) / 1e6)
			}
			if finished.Add(1) == int64(n) {
				doneOnce.Do(func() { close(done) })
			}
		}
	}
	if n == 0 {
		close(done)
	}

	// Setup, outside the measured part.
	switch s.Kind {
	case kindProcess:
		if err := c.d.prefill(ctx, n, !s.Remove); err != nil {
			return fmt.Errorf("prefill: %w", err)
		}
		fallthrough
	case kindLatency, kindIdle:
		var err error
		if w, err = c.d.newWorker(max(s.Concurrency, 1), s.Remove || s.Kind != kindProcess, h); err != nil {
			return fmt.Errorf("new worker: %w", err)
		}
		defer func() {
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer ccancel()
			_ = w.close(cctx)
		}()
	}
	if s.Kind == kindIdle {
		if err := w.start(ctx); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		if err := sleep(ctx, time.Duration(s.SettleMs)*time.Millisecond); err != nil {
			return err
		}
		c.send(message{Phase: "ready"})
		return c.verifyAndExit(ctx)
	}
	c.send(message{Phase: "ready"})
	if err := c.expect(ctx, "go"); err != nil {
		return err
	}

	stopProfile, err := c.startProfile()
	if err != nil {
		return err
	}
	res := message{Phase: "done"}
	t0 := time.Now()
	switch s.Kind {
	case kindAddSerial:
		err = c.d.addSerial(ctx, n)
		res.Added = n
	case kindAddBulk:
		err = c.d.addBulk(ctx, n, s.Chunk, s.Producers)
		res.Added = n
	case kindProcess:
		if err = w.start(ctx); err == nil {
			err = waitDone(ctx, done, &finished, n)
		}
	case kindLatency:
		err = c.latency(ctx, w, done, &finished)
		res.Added = n
	}
	elapsed := time.Since(t0)
	if perr := stopProfile(); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	res.ElapsedS = elapsed.Seconds()
	res.Processed = int(finished.Load())
	if s.Kind == kindLatency {
		res.Pickup, res.Complete = pickup.summary(), complete.summary()
	}
	c.send(res)
	return c.verifyAndExit(ctx)
}

func waitDone(ctx context.Context, done <-chan struct{}, finished *atomic.Int64, n int) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d of %d jobs completed: %w", finished.Load(), n, ctx.Err())
	}
}

// latency starts the worker, lets it reach its idle wait, then adds N jobs
// open-loop at s.Rate (each add awaited, the schedule not shifted by slow
// adds) and waits for every completion.
func (c *child) latency(ctx context.Context, w benchWorker, done <-chan struct{}, finished *atomic.Int64) error {
	if err := w.start(ctx); err != nil {
		return err
	}
	if err := sleep(ctx, 300*time.Millisecond); err != nil {
		return err
	}
	interval := time.Duration(float64(time.Second) / c.s.Rate)
	start := time.Now()
	buf := make([]byte, 0, 32)
	for i := 0; i < c.s.N; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			if err := sleep(ctx, d); err != nil {
				return err
			}
		}
		buf = append(buf[:0], `{"t":`...)
		buf = fmt.Appendf(buf, "%d}", time.Now().UnixNano())
		if err := c.d.add(ctx, buf); err != nil {
			return fmt.Errorf("add %d: %w", i, err)
		}
	}
	return waitDone(ctx, done, finished, c.s.N)
}

func (c *child) verifyAndExit(ctx context.Context) error {
	if err := c.expect(ctx, "verify"); err != nil {
		return err
	}
	ok, detail := c.verify(ctx)
	c.send(message{Phase: "verified", OK: ok, Detail: detail})
	return c.expect(ctx, "exit")
}

// verify checks that the queue ended where the scenario says it must.
func (c *child) verify(ctx context.Context) (bool, string) {
	got, err := c.d.counts(ctx)
	if err != nil {
		return false, err.Error()
	}
	n := int64(c.s.N)
	want := counts{}
	switch c.s.Kind {
	case kindAddSerial, kindAddBulk:
		want.waiting = n
	case kindProcess:
		if !c.s.Remove {
			want.completed = n
		}
	}
	detail := fmt.Sprintf("waiting=%d active=%d completed=%d (want %d/%d/%d)",
		got.waiting, got.active, got.completed, want.waiting, want.active, want.completed)
	return got == want, detail
}

// startProfile starts the CPU profile and snapshots the allocation profile
// when the spec asks for them; the returned func writes them.
func (c *child) startProfile() (func() error, error) {
	var cpuFile *os.File
	if c.s.CPUProfile != "" {
		f, err := os.Create(c.s.CPUProfile)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		cpuFile = f
	}
	if c.s.MemProfile != "" {
		// The allocation profile is cumulative: a base taken now lets
		// `go tool pprof -diff_base` show only the measured part.
		if err := writeAllocs(c.s.MemProfile + ".base"); err != nil {
			return nil, err
		}
	}
	return func() error {
		var errs []error
		if cpuFile != nil {
			pprof.StopCPUProfile()
			errs = append(errs, cpuFile.Close())
		}
		if c.s.MemProfile != "" {
			errs = append(errs, writeAllocs(c.s.MemProfile))
		}
		return errors.Join(errs...)
	}, nil
}

func writeAllocs(path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
