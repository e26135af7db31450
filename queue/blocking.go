package queue

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// connectionName is the name of a worker's blocking connection, as Node
// BullMQ names it (protocol §11.9): "<prefix>:<base64(queue)>" plus
// ":w:<name>" for a named worker. Node's queue.getWorkers() finds workers
// by this name.
func connectionName(prefix, queue, worker string) string {
	n := prefix + ":" + base64.StdEncoding.EncodeToString([]byte(queue))
	if worker != "" {
		n += ":w:" + worker
	}
	return n
}

// blocker owns the dedicated connection a worker blocks on (BZPOPMIN on
// the marker). It is a separate go-redis client cloned from the caller's
// options with a pool of one and ClientName set, so a blocked read never
// holds one of the caller's pooled connections and CLIENT LIST shows the
// worker. Supported: *redis.Client (including failover clients made by
// NewFailoverClient: the clone reuses their sentinel-aware dialer) and
// *redis.ClusterClient. For any other UniversalClient (Ring, wrappers) the
// worker blocks on the given client itself, without a connection name.
type blocker struct {
	c     redis.UniversalClient
	owned bool
	// precise: our own clone, whose read deadline is the watchdog alone, so
	// BZPOPMIN can be sent with a fractional timeout. A foreign client gets
	// go-redis' BZPopMin (whole seconds, at least 1 s).
	precise bool
}

func newBlocker(c redis.UniversalClient, name string) *blocker {
	switch v := c.(type) {
	case *redis.Client:
		o := *v.Options()
		o.ClientName = name
		o.PoolSize = 1
		o.MinIdleConns = 0
		o.MaxIdleConns = 1
		o.ContextTimeoutEnabled = true // the watchdog deadline reaches the socket
		o.ReadTimeout = -1             // …and is the only read deadline
		o.MaxRetries = -1              // the fetch loop retries itself
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		return &blocker{c: redis.NewClient(&o), owned: true, precise: true}
	case *redis.ClusterClient:
		o := *v.Options()
		o.ClientName = name
		o.PoolSize = 1
		o.MinIdleConns = 0
		o.MaxIdleConns = 1
		o.ContextTimeoutEnabled = true
		o.ReadTimeout = -1
		o.MaxRetries = -1
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		return &blocker{c: redis.NewClusterClient(&o), owned: true, precise: true}
	}
	return &blocker{c: c}
}

// errNotReady means the marker said the next job is due later; block again.
var errNotReady = errors.New("queue: next job not due yet")

// wait blocks on the marker for at most timeout (never 0, which would block
// forever). A watchdog deadline of timeout + 1 s bounds the read even when
// the server never answers; go-redis then drops the connection.
// It returns blockUntil > 0 when the popped marker names a future time.
func (b *blocker) wait(ctx context.Context, markerKey string, timeout time.Duration, now func() time.Time) (blockUntil int64, err error) {
	if timeout < time.Millisecond {
		timeout = time.Millisecond
	}
	wctx, cancel := context.WithTimeout(ctx, timeout+time.Second)
	defer cancel()
	var score float64
	if b.precise {
		score, err = b.popPrecise(wctx, markerKey, timeout)
	} else {
		var z *redis.ZWithKey
		z, err = b.c.BZPopMin(wctx, max(timeout.Round(time.Second), time.Second), markerKey).Result()
		if err == nil {
			score = z.Score
		}
	}
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return 0, nil // timed out: fetch (this also promotes due delayed jobs)
		}
		if wctx.Err() != nil && ctx.Err() == nil {
			return 0, nil // watchdog fired: treat as a timeout
		}
		b.reloadSlots()
		return 0, err
	}
	bu := int64(score)
	if bu <= 0 || bu-now().UnixMilli() < 1 {
		return 0, nil
	}
	return bu, errNotReady
}

// reloadSlots asks an owned cluster clone to reload its slot map after an
// error: go-redis reloads it by itself only on MOVED/ASK or every 60s, and
// a dead master sends no MOVED, so without this the worker would block on
// the dead node for up to a minute after its replica took over.
func (b *blocker) reloadSlots() {
	if cc, ok := b.c.(*redis.ClusterClient); ok && b.owned {
		cc.ReloadState(context.Background())
	}
}

func (b *blocker) close() {
	if b.owned {
		_ = b.c.Close()
	}
}

// popPrecise sends BZPOPMIN with the timeout in seconds with millisecond
// precision (Redis ≥ 6.0 takes fractions) and decodes [key, member, score].
func (b *blocker) popPrecise(ctx context.Context, key string, timeout time.Duration) (float64, error) {
	secs := strconv.FormatFloat(timeout.Seconds(), 'f', 3, 64)
	res, err := b.c.Do(ctx, "bzpopmin", key, secs).Result()
	if err != nil {
		return 0, err
	}
	arr, ok := res.([]any)
	if !ok || len(arr) < 3 {
		return 0, fmt.Errorf("queue: unexpected BZPOPMIN reply %T", res)
	}
	switch v := arr[2].(type) {
	case float64:
		return v, nil
	case int64:
		return float64(v), nil
	case string:
		return strconv.ParseFloat(v, 64)
	}
	return 0, fmt.Errorf("queue: unexpected BZPOPMIN score %T", arr[2])
}
