package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/zyeute/zyeute-redis/queue"
)

const jobName = "bench"

// oursDriver runs our queue package with its defaults ("bull" prefix), as a
// service would.
type oursDriver struct {
	s      spec
	pc, wc *redis.Client // producer, worker
	q      *queue.Queue
}

func newOursDriver(s spec) (driver, error) {
	d := &oursDriver{s: s, pc: newClient(s, 64), wc: newClient(s, 64)}
	q, err := queue.NewQueue(d.pc, s.Queue, nil)
	if err != nil {
		d.close()
		return nil, err
	}
	d.q = q
	return d, nil
}

func (d *oursDriver) close() error {
	d.pc.Close()
	d.wc.Close()
	return nil
}

type payload struct {
	I int `json:"i"`
}

func (d *oursDriver) addSerial(ctx context.Context, n int) error {
	for i := 0; i < n; i++ {
		if _, err := d.q.Add(ctx, jobName, payload{i}, nil); err != nil {
			return err
		}
	}
	return nil
}

func (d *oursDriver) addBulk(ctx context.Context, n, chunk, _ int) error {
	batch := make([]queue.BulkJob, 0, chunk)
	for i := 0; i < n; i++ {
		batch = append(batch, queue.BulkJob{Name: jobName, Data: payload{i}})
		if len(batch) == chunk || i == n-1 {
			jobs, err := d.q.AddBulk(ctx, batch)
			if err != nil {
				return err
			}
			if len(jobs) != len(batch) {
				return fmt.Errorf("AddBulk returned %d jobs for %d", len(jobs), len(batch))
			}
			batch = batch[:0]
		}
	}
	return nil
}

func (d *oursDriver) prefill(ctx context.Context, n int, _ bool) error {
	return d.addBulk(ctx, n, 1000, 1)
}

func (d *oursDriver) add(ctx context.Context, data []byte) error {
	_, err := d.q.Add(ctx, jobName, json.RawMessage(data), nil)
	return err
}

func (d *oursDriver) counts(ctx context.Context) (counts, error) {
	c, err := d.q.Counts(ctx)
	if err != nil {
		return counts{}, err
	}
	return counts{waiting: c.Waiting + c.Prioritized + c.Delayed, active: c.Active, completed: c.Completed}, nil
}
