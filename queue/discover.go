package queue

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// MaxDiscoveredQueues bounds ListQueues: a prefix holding more queues than
// this is almost certainly a mistake (a job id or tenant used as queue name),
// and listing it would cost a full keyspace scan per call.
const MaxDiscoveredQueues = 10000

// ListQueues returns the names of every queue under prefix, sorted: the
// queues that have a "<prefix>:<name>:meta" hash. Node BullMQ 6.7.0 and this
// package both write it when the first job is added, when a queue is paused
// or resumed and when a global concurrency or rate limit is set, so queues
// created by Node programs are found as well as ours.
//
// It SCANs (never KEYS) with MATCH, on every master of a *redis.ClusterClient
// and on the one server otherwise. An empty prefix means DefaultPrefix.
// More than MaxDiscoveredQueues queues is an error naming the bound.
func ListQueues(ctx context.Context, c redis.UniversalClient, prefix string) ([]string, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if len(prefix) > 512 {
		return nil, fmt.Errorf("queue: prefix must be at most 512 bytes")
	}
	pattern := globEscape(prefix) + ":*:meta"
	var (
		mu    sync.Mutex
		names = map[string]struct{}{}
	)
	collect := func(ctx context.Context, node redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := node.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return fmt.Errorf("queue: listing queues under %q: %w", prefix, err)
			}
			mu.Lock()
			for _, k := range keys {
				name := strings.TrimSuffix(strings.TrimPrefix(k, prefix+":"), ":meta")
				// A queue name never contains ':' (validateNames); a key
				// such as "bull:q:123:meta" is not a queue's meta hash.
				if name != "" && !strings.Contains(name, ":") {
					names[name] = struct{}{}
				}
			}
			n := len(names)
			mu.Unlock()
			if n > MaxDiscoveredQueues {
				return fmt.Errorf("queue: more than %d queues under prefix %q", MaxDiscoveredQueues, prefix)
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return collect(ctx, node)
		})
	} else {
		err = collect(ctx, c)
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// globEscape escapes the characters SCAN's MATCH treats as pattern syntax.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
