package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// RemoveJobEvents deletes the entries of the queue's events stream that
// carry one of ids as their jobId (a "completed" entry holds the job's
// return value, a "failed" one its reason), reading at most maxScan entries
// from the oldest in pages of 500 (maxScan <= 0: 100000). It returns how
// many entries it deleted. Used to erase a person's data (Loi 25, GDPR):
// remove the jobs, then their events. QueueEvents followers that already
// read an entry keep what they read.
func (q *Queue) RemoveJobEvents(ctx context.Context, ids []string, maxScan int64) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	if maxScan <= 0 {
		maxScan = 100000
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	const page = 500
	start := "-"
	var read, removed int64
	for read < maxScan {
		n := int64(page)
		if maxScan-read < n {
			n = maxScan - read
		}
		msgs, err := q.c.XRangeN(ctx, q.k.events(), start, "+", n).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return removed, fmt.Errorf("queue: reading events: %w", err)
		}
		if len(msgs) == 0 {
			break
		}
		read += int64(len(msgs))
		var del []string
		for _, m := range msgs {
			if id, _ := m.Values["jobId"].(string); want[id] {
				del = append(del, m.ID)
			}
		}
		if len(del) > 0 {
			d, err := q.c.XDel(ctx, q.k.events(), del...).Result()
			removed += d
			if err != nil {
				return removed, fmt.Errorf("queue: deleting events: %w", err)
			}
		}
		if int64(len(msgs)) < n {
			break
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
	return removed, nil
}
