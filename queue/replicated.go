package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrNotReplicated is wrapped by the error of an Add (with
// QueueOptions.WaitReplicas) whose job was stored on the master but not
// acknowledged by enough replicas in time: it would be lost if the master
// died now. Adding again with the same JobID is safe (no duplicate).
var ErrNotReplicated = errors.New("queue: add not acknowledged by enough replicas")

// addReplicated runs the add script and WAIT in one pipeline on one
// connection to the master of the queue's slot: WAIT counts the replicas
// that have received every write made on its own connection, so it must
// follow the add on the same connection. The returned job is valid even
// with ErrNotReplicated.
func (q *Queue) addReplicated(ctx context.Context, p *prepared) (*Job, AddOutcome, error) {
	var node *redis.Client
	switch c := q.c.(type) {
	case *redis.Client:
		node = c
	case *redis.ClusterClient:
		m, err := c.MasterForKey(ctx, p.keys[0])
		if err != nil {
			return nil, Added, fmt.Errorf("queue: addJob: finding the master of %s: %w", p.keys[0], err)
		}
		node = m
	default:
		return nil, Added, fmt.Errorf("queue: WaitReplicas needs a *redis.Client or *redis.ClusterClient, not %T", q.c)
	}
	timeoutMS := max(q.opts.WaitReplicasTimeout.Milliseconds(), 1)
	var add *redis.Cmd
	var wait *redis.Cmd
	for attempt := 0; ; attempt++ {
		_, err := node.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			add = scriptAddJob.s.EvalSha(ctx, pipe, p.keys, p.args...)
			wait = pipe.Do(ctx, "WAIT", q.opts.WaitReplicas, timeoutMS)
			return nil
		})
		if err := add.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") && attempt == 0 {
			if err := scriptAddJob.load(ctx, node); err != nil {
				return nil, Added, err
			}
			continue
		}
		if err := add.Err(); err != nil {
			return nil, Added, fmt.Errorf("queue: addJob: %w", err)
		}
		if err != nil && wait.Err() == nil {
			return nil, Added, fmt.Errorf("queue: addJob: %w", err)
		}
		break
	}
	res := add.Val()
	if code, ok := res.(int64); ok && code < 0 {
		return nil, Added, codeError("addJob", p.job.ID, code)
	}
	id, outcome, err := addResult(res)
	if err != nil {
		return nil, Added, err
	}
	p.job.ID = id
	n, err := wait.Int()
	if err != nil {
		return p.job, outcome, fmt.Errorf("%w: WAIT failed: %v", ErrNotReplicated, err)
	}
	if n < q.opts.WaitReplicas {
		return p.job, outcome, fmt.Errorf("%w: job %s acknowledged by %d of %d replica(s) within %s",
			ErrNotReplicated, id, n, q.opts.WaitReplicas, q.opts.WaitReplicasTimeout)
	}
	return p.job, outcome, nil
}
