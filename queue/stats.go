package queue

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

var scriptStats = newScript("stats")

// Defaults of StatsOptions.
const (
	DefaultStatsActiveChecked = 1000
	DefaultStatsLocklessIDs   = 10
)

// StatsOptions tune Queue.Stats. A nil *StatsOptions means the defaults.
type StatsOptions struct {
	// MaxActiveChecked bounds how many active jobs (from the head of the
	// active list) get their lock checked. Defaults to 1000.
	MaxActiveChecked int
	// MaxLocklessIDs bounds QueueStats.LocklessIDs. Defaults to 10.
	MaxLocklessIDs int
}

// QueueStats is one queue's health at one moment, as an operator reads it:
// the counts, whether it is paused, how long the next job has waited, and
// the active jobs whose lock is gone.
type QueueStats struct {
	Counts Counts
	Paused bool
	// OldestWaiting is when the job next in line in wait was created
	// (its `timestamp`); zero when nothing waits.
	OldestWaiting time.Time
	// ActiveChecked is how many active jobs were looked at (at most
	// StatsOptions.MaxActiveChecked); ActiveWithoutLock how many of them
	// have no lock: their worker died or lost the lock, and the stalled
	// check of any worker will move them back to wait (or fail them).
	ActiveChecked     int64
	ActiveWithoutLock int64
	// LocklessIDs are the first of those jobs' ids.
	LocklessIDs []string
}

// Stats reads the queue's counts, paused flag, oldest waiting job and the
// active jobs without a lock in one script call, which only reads (on a
// cluster it runs on the queue's node). A legacy v5 marker at the tail of
// wait is not counted.
func (q *Queue) Stats(ctx context.Context, opts *StatsOptions) (QueueStats, error) {
	var o StatsOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxActiveChecked < 0 || o.MaxLocklessIDs < 0 {
		return QueueStats{}, optErr("StatsOptions", "MaxActiveChecked and MaxLocklessIDs must not be negative")
	}
	if o.MaxActiveChecked == 0 {
		o.MaxActiveChecked = DefaultStatsActiveChecked
	}
	if o.MaxLocklessIDs == 0 {
		o.MaxLocklessIDs = DefaultStatsLocklessIDs
	}
	res, err := scriptStats.run(ctx, q.c, "", []string{q.k.meta()}, q.k.base, o.MaxActiveChecked, o.MaxLocklessIDs)
	if err != nil {
		return QueueStats{}, err
	}
	arr, ok := res.([]any)
	if !ok || len(arr) != 13 {
		return QueueStats{}, fmt.Errorf("queue: stats of %s: unexpected reply %T", q.name, res)
	}
	n := func(i int) int64 { v, _ := arr[i].(int64); return v }
	s := QueueStats{
		Counts: Counts{Waiting: n(0), Active: n(1), Delayed: n(2), Prioritized: n(3), Completed: n(4), Failed: n(5),
			WaitingChildren: n(6), Paused: n(7)},
		Paused: n(8) == 1, ActiveWithoutLock: n(10), ActiveChecked: n(11), LocklessIDs: []string{},
	}
	if ts, _ := arr[9].(string); ts != "" {
		if ms, err := strconv.ParseFloat(ts, 64); err == nil && ms > 0 {
			s.OldestWaiting = time.UnixMilli(int64(ms))
		}
	}
	ids, _ := arr[12].([]any)
	for _, id := range ids {
		if str, ok := id.(string); ok {
			s.LocklessIDs = append(s.LocklessIDs, str)
		}
	}
	return s, nil
}

// isWorkerConn reports whether a connection name is one of a worker of the
// queue whose plain connection name (connectionName without a worker) is
// plain.
func isWorkerConn(name, plain string) bool {
	return name != "" && (name == plain || strings.HasPrefix(name, plain+":w:"))
}

// CountWorkers counts the workers, Node or Go, connected to each of the
// queues under prefix, from CLIENT LIST: one CLIENT LIST per server, not
// per queue. On a *redis.ClusterClient each queue's workers are counted on
// the master serving its keys, where they block (a worker's cluster client
// may leave a connection with the same name on the node it loaded the slot
// map from). Queues with no worker are in the map with 0.
func CountWorkers(ctx context.Context, c redis.UniversalClient, prefix string, queues []string) (map[string]int, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	out := make(map[string]int, len(queues))
	for _, q := range queues {
		out[q] = 0
	}
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		list, err := c.ClientList(ctx).Result()
		if err != nil {
			return nil, fmt.Errorf("queue: count workers: %w", err)
		}
		countWorkersIn(list, prefix, queues, out)
		return out, nil
	}
	byMaster := map[string][]string{}
	masters := map[string]*redis.Client{}
	for _, q := range queues {
		m, err := cc.MasterForKey(ctx, newKeys(prefix, q).meta())
		if err != nil {
			return nil, fmt.Errorf("queue: count workers of %s: %w", q, err)
		}
		addr := m.Options().Addr
		masters[addr] = m
		byMaster[addr] = append(byMaster[addr], q)
	}
	for addr, qs := range byMaster {
		list, err := masters[addr].ClientList(ctx).Result()
		if err != nil {
			return nil, fmt.Errorf("queue: count workers: %w", err)
		}
		countWorkersIn(list, prefix, qs, out)
	}
	return out, nil
}

// countWorkersIn adds to out the connections of a CLIENT LIST reply named
// as workers of queues.
func countWorkersIn(list, prefix string, queues []string, out map[string]int) {
	byName := make(map[string]string, len(queues))
	for _, q := range queues {
		byName[connectionName(prefix, q, "")] = q
	}
	for _, line := range strings.Split(list, "\n") {
		i := strings.Index(line, " name=")
		if i < 0 {
			continue
		}
		name := line[i+len(" name="):]
		if j := strings.IndexAny(name, " \r"); j >= 0 {
			name = name[:j]
		}
		base, _, _ := strings.Cut(name, ":w:")
		if q, ok := byName[base]; ok && isWorkerConn(name, base) {
			out[q]++
		}
	}
}

// Exists reports whether the queue exists: whether it has its `meta` hash,
// the mark ListQueues finds queues by (Node BullMQ and this package write
// it at the first add, pause, resume or global limit).
func (q *Queue) Exists(ctx context.Context) (bool, error) {
	n, err := q.c.Exists(ctx, q.k.meta()).Result()
	if err != nil {
		return false, fmt.Errorf("queue: exists: %w", err)
	}
	return n == 1, nil
}
