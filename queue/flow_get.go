package queue

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"
)

// FlowOpts say which tree GetFlow reads.
type FlowOpts struct {
	// ID and QueueName of the root job. Required.
	ID        string
	QueueName string
	// Prefix of the root's queue. Defaults to "bull".
	Prefix string
	// Depth is how many levels to read, the root being level 1. Defaults
	// to 10, as Node's getFlow.
	Depth int
	// MaxChildren bounds the children read per parent and per kind
	// (processed, pending, failed, ignored). Defaults to 20, as Node.
	MaxChildren int
}

// GetFlow reads a tree of jobs, as Node's FlowProducer.getFlow: the root,
// then each parent's children — processed ones (`:processed`), pending
// ones (`:dependencies`), failed ones (`:unsuccessful`) and ignored
// failures (`:failed`), in that order, each kind sorted by key — down to
// Depth levels. Children whose hash is gone are left out. The root
// missing gives ErrJobNotFound; a tree of more than MaxFlowNodes jobs is
// refused (lower Depth or MaxChildren).
func GetFlow(ctx context.Context, c redis.UniversalClient, opts FlowOpts) (*JobNode, error) {
	if c == nil {
		return nil, errors.New("queue: nil redis client")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Depth == 0 {
		opts.Depth = 10
	}
	if opts.MaxChildren == 0 {
		opts.MaxChildren = 20
	}
	if opts.Depth < 0 || opts.MaxChildren < 0 {
		return nil, optErr("Depth", "Depth and MaxChildren must not be negative")
	}
	if err := validateNames(opts.Prefix, opts.QueueName); err != nil {
		return nil, err
	}
	r := flowReader{c: c, max: int64(opts.MaxChildren)}
	n, err := r.node(ctx, opts.Prefix, opts.QueueName, opts.ID, opts.Depth)
	if err != nil {
		return nil, err
	}
	if n == nil {
		return nil, fmt.Errorf("queue: get flow %.64q: %w", opts.ID, ErrJobNotFound)
	}
	return n, nil
}

type flowReader struct {
	c     redis.UniversalClient
	max   int64
	count int
}

// node reads job id and, while depth allows, its children; nil when the
// job does not exist.
func (r *flowReader) node(ctx context.Context, prefix, name, id string, depth int) (*JobNode, error) {
	if r.count++; r.count > MaxFlowNodes {
		return nil, optErr("Depth", "the flow has more than %d jobs; lower Depth or MaxChildren", MaxFlowNodes)
	}
	q := queueOf(r.c, prefix, name, (*QueueOptions)(nil).withDefaults())
	j, err := q.GetJob(ctx, id)
	if errors.Is(err, ErrJobNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := &JobNode{Job: j, Queue: prefix + ":" + name}
	if depth <= 1 {
		return out, nil
	}
	keys, err := r.childKeys(ctx, q.k.job(id))
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		p, n, cid := splitNodeKey(k)
		child, err := r.node(ctx, p, n, cid, depth-1)
		if err != nil {
			return nil, err
		}
		if child != nil {
			out.Children = append(out.Children, child)
		}
	}
	return out, nil
}

// childKeys lists up to max children of each kind, in one round trip.
func (r *flowReader) childKeys(ctx context.Context, jobKey string) ([]string, error) {
	var processed, ignored *redis.ScanCmd
	var pending *redis.ScanCmd
	var failed *redis.StringSliceCmd
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		processed = p.HScan(ctx, jobKey+":processed", 0, "", r.max)
		pending = p.SScan(ctx, jobKey+":dependencies", 0, "", r.max)
		failed = p.ZRange(ctx, jobKey+":unsuccessful", 0, r.max-1)
		ignored = p.HScan(ctx, jobKey+":failed", 0, "", r.max)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue: get flow: children of %s: %w", jobKey, err)
	}
	hashKeys := func(c *redis.ScanCmd) []string {
		kv, _ := c.Val()
		var ks []string
		for i := 0; i+1 < len(kv); i += 2 {
			ks = append(ks, kv[i])
		}
		return ks
	}
	pend, _ := pending.Val()
	var out []string
	seen := map[string]bool{}
	for _, group := range [][]string{hashKeys(processed), pend, failed.Val(), hashKeys(ignored)} {
		sort.Strings(group)
		for i, k := range group {
			if int64(i) >= r.max {
				break
			}
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out, nil
}

// splitNodeKey splits a job key "prefix:queue:id" as Node does: the id
// after the last colon, the queue name between it and the one before.
func splitNodeKey(key string) (prefix, name, id string) {
	last := strings.LastIndexByte(key, ':')
	if last < 0 {
		return "", "", key
	}
	prev := strings.LastIndexByte(key[:last], ':')
	if prev < 0 {
		return "", key[:last], key[last+1:]
	}
	return key[:prev], key[prev+1 : last], key[last+1:]
}
