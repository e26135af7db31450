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
	d, err := DiscoverQueues(ctx, c, prefix, nil)
	if err != nil {
		return nil, err
	}
	return d.Names, nil
}

// DiscoverOptions bound DiscoverQueues. A nil pointer means no bound but
// MaxDiscoveredQueues and the context.
type DiscoverOptions struct {
	// MaxScanKeys stops the SCAN once it has examined about this many keys
	// (each SCAN call examines about 1000; 0: no bound), for tools that
	// must answer quickly on a large keyspace.
	MaxScanKeys int
}

// Discovery is what DiscoverQueues found.
type Discovery struct {
	Names []string // sorted
	// ScannedKeys is how many keys the SCAN returned (the queues' meta
	// keys); Truncated is true when MaxScanKeys or the context stopped it
	// before the end.
	ScannedKeys int
	Truncated   bool
}

// DiscoverQueues is ListQueues that can stop early: after
// opts.MaxScanKeys keys, or when ctx ends with queues already found (the
// error is then ctx's, with the partial Discovery). Either sets Truncated.
func DiscoverQueues(ctx context.Context, c redis.UniversalClient, prefix string, opts *DiscoverOptions) (Discovery, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if len(prefix) > 512 {
		return Discovery{}, fmt.Errorf("queue: prefix must be at most 512 bytes")
	}
	var maxKeys int
	if opts != nil {
		maxKeys = opts.MaxScanKeys
	}
	pattern := globEscape(prefix) + ":*:meta"
	var (
		mu        sync.Mutex
		names     = map[string]struct{}{}
		scanned   int
		truncated bool
	)
	const count = 1000
	collect := func(ctx context.Context, node redis.Cmdable) error {
		var cursor uint64
		for calls := 1; ; calls++ {
			keys, next, err := node.Scan(ctx, cursor, pattern, count).Result()
			if err != nil {
				return fmt.Errorf("queue: listing queues under %q: %w", prefix, err)
			}
			mu.Lock()
			scanned += len(keys)
			for _, k := range keys {
				name := strings.TrimSuffix(strings.TrimPrefix(k, prefix+":"), ":meta")
				// A queue name never contains ':' (validateNames); a key
				// such as "bull:q:123:meta" is not a queue's meta hash.
				if name != "" && !strings.Contains(name, ":") {
					names[name] = struct{}{}
				}
			}
			n, stop := len(names), maxKeys > 0 && calls*count >= maxKeys && next != 0
			truncated = truncated || stop
			mu.Unlock()
			if n > MaxDiscoveredQueues {
				return fmt.Errorf("queue: more than %d queues under prefix %q", MaxDiscoveredQueues, prefix)
			}
			if next == 0 || stop {
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
	mu.Lock()
	defer mu.Unlock()
	d := Discovery{Names: make([]string, 0, len(names)), ScannedKeys: scanned, Truncated: truncated}
	for n := range names {
		d.Names = append(d.Names, n)
	}
	sort.Strings(d.Names)
	if err != nil {
		if ctx.Err() != nil && len(d.Names) > 0 {
			d.Truncated = true
			return d, ctx.Err()
		}
		return Discovery{}, err
	}
	return d, nil
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
