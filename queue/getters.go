package queue

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// StatePaused names the legacy (BullMQ v5) paused list. Nothing writes it
// any more; GetJobCounts and GetJobs accept it to read old queues.
const StatePaused JobState = "paused"

// DefaultStates are the states GetJobCounts and GetJobs use when given
// none, in Node's order.
var DefaultStates = []JobState{StateActive, StateCompleted, StateDelayed, StateFailed, StatePrioritized,
	StateWaiting, StateWaitingChildren}

// getJobsMaxReads bounds how far GetJobs walks past ids without a hash
// (Node's backfill bound).
const getJobsMaxReads = 5

var (
	scriptGetCounts = newScript("getCounts")
	scriptGetJobs   = newScript("getJobs")
)

// stateSuffixes checks the states and maps them to key suffixes
// ("waiting" is the `wait` list), dropping repeats; none means
// DefaultStates.
func stateSuffixes(states []JobState) ([]JobState, []any, error) {
	if len(states) == 0 {
		states = DefaultStates
	}
	seen := map[JobState]bool{}
	var outStates []JobState
	var out []any
	for _, s := range states {
		switch s {
		case StateWaiting, StateActive, StateDelayed, StatePrioritized, StateCompleted, StateFailed,
			StateWaitingChildren, StatePaused:
		default:
			return nil, nil, optErr("states", "unknown job state %.64q (want waiting, active, delayed, prioritized, "+
				"completed, failed, waiting-children or paused)", string(s))
		}
		if seen[s] {
			continue
		}
		seen[s] = true
		outStates = append(outStates, s)
		if s == StateWaiting {
			out = append(out, "wait")
		} else {
			out = append(out, string(s))
		}
	}
	return outStates, out, nil
}

// GetJobCounts returns the number of jobs in each of states (DefaultStates
// when none), as Node's queue.getJobCounts(...types) does, in one script.
// "waiting" counts the wait list. A legacy v5 marker at the tail of the
// wait (or paused) list is removed on the way, as Node removes it.
func (q *Queue) GetJobCounts(ctx context.Context, states ...JobState) (map[JobState]int64, error) {
	sts, args, err := stateSuffixes(states)
	if err != nil {
		return nil, err
	}
	res, err := scriptGetCounts.run(ctx, q.c, "", []string{q.k.base}, args...)
	if err != nil {
		return nil, err
	}
	arr, _ := res.([]any)
	if len(arr) != len(sts) {
		return nil, fmt.Errorf("queue: getCounts: %d counts for %d states", len(arr), len(sts))
	}
	out := make(map[JobState]int64, len(sts))
	for i, s := range sts {
		n, _ := arr[i].(int64)
		out[s] = n
	}
	return out, nil
}

// GetJobs returns the jobs in states (DefaultStates when none), state by
// state, each state's jobs from index start to end inclusive (end -1: to
// the last), newest first unless asc, as Node's queue.getJobs(types, start,
// end, asc) does: ids and hashes are read in one script, ids without a hash
// are skipped (a bounded page is filled from further on when it can), a
// job in two of the states is listed once. Lists (waiting, active) order by
// insertion, sets by score (delayed: due time; prioritized: priority;
// completed/failed: finish time).
//
// A hash that cannot be decoded is returned with what could be read; the
// first *MalformedJobError is returned with the jobs.
func (q *Queue) GetJobs(ctx context.Context, states []JobState, start, end int64, asc bool) ([]*Job, error) {
	_, sfx, err := stateSuffixes(states)
	if err != nil {
		return nil, err
	}
	args := append([]any{start, end, boolArg(asc), getJobsMaxReads}, sfx...)
	res, err := scriptGetJobs.run(ctx, q.c, "", []string{q.k.base}, args...)
	if err != nil {
		return nil, err
	}
	groups, _ := res.([]any)
	seen := map[string]bool{}
	var jobs []*Job
	var firstBad error
	for _, g := range groups {
		entries, _ := g.([]any)
		for _, e := range entries {
			pair, _ := e.([]any)
			if len(pair) != 2 {
				continue
			}
			id, _ := pair[0].(string)
			fields, _ := pair[1].([]any)
			if id == "" || seen[id] {
				continue
			}
			seen[id] = true
			h := make(map[string]string, len(fields)/2)
			for i := 0; i+1 < len(fields); i += 2 {
				k, _ := fields[i].(string)
				v, _ := fields[i+1].(string)
				h[k] = v
			}
			j, err := jobFromHash(id, h)
			if err != nil && firstBad == nil {
				firstBad = err
			}
			j.q = q
			jobs = append(jobs, j)
		}
	}
	return jobs, firstBad
}

// JobLogs is one page of a job's log lines and the total count.
type JobLogs struct {
	Logs  []string
	Count int64
}

// GetJobLogs returns log lines start to end (inclusive; -1 is the last) of
// job id, oldest first when asc, newest first otherwise, and the number of
// lines, as Node's queue.getJobLogs(id, start, end, asc).
func (q *Queue) GetJobLogs(ctx context.Context, id string, start, end int64, asc bool) (JobLogs, error) {
	if !mayBeJobID(id) {
		return JobLogs{Logs: []string{}}, nil
	}
	key := q.k.logs(id)
	var rng *redis.StringSliceCmd
	var n *redis.IntCmd
	_, err := q.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if asc {
			rng = p.LRange(ctx, key, start, end)
		} else {
			rng = p.LRange(ctx, key, -(end + 1), -(start + 1))
		}
		n = p.LLen(ctx, key)
		return nil
	})
	if err != nil {
		return JobLogs{}, fmt.Errorf("queue: logs of job %s: %w", id, err)
	}
	logs := rng.Val()
	if logs == nil {
		logs = []string{}
	}
	if !asc {
		for i, j := 0, len(logs)-1; i < j; i, j = i+1, j-1 {
			logs[i], logs[j] = logs[j], logs[i]
		}
	}
	return JobLogs{Logs: logs, Count: n.Val()}, nil
}

// WorkerInfo is one connection of a worker of the queue, from CLIENT LIST.
type WorkerInfo struct {
	// Name is the queue's name (as Node reports it); RawName the
	// connection name ("<prefix>:<base64(queue)>" or with ":w:<name>").
	Name    string
	RawName string
	// Fields are the CLIENT LIST fields of the connection (addr, age,
	// idle, …).
	Fields map[string]string
}

// GetWorkers lists the workers, Node or Go, connected to this queue: the
// connections named as BullMQ names a worker's blocking connection, as
// Node's queue.getWorkers(). On a cluster, the node with the most matching
// connections answers (Node's rule).
func (q *Queue) GetWorkers(ctx context.Context) ([]WorkerInfo, error) {
	var lists []string
	if cc, ok := q.c.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			s, err := c.ClientList(ctx).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			lists = append(lists, s)
			mu.Unlock()
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("queue: get workers: %w", err)
		}
	} else {
		s, err := q.c.ClientList(ctx).Result()
		if err != nil {
			return nil, fmt.Errorf("queue: get workers: %w", err)
		}
		lists = []string{s}
	}
	plain := connectionName(q.opts.Prefix, q.name, "")
	var best []WorkerInfo
	for _, l := range lists {
		var ws []WorkerInfo
		for _, line := range strings.Split(l, "\n") {
			line = strings.TrimRight(line, "\r")
			f := map[string]string{}
			for _, kv := range strings.Split(line, " ") {
				k, v, _ := strings.Cut(kv, "=")
				f[k] = v
			}
			name := f["name"]
			if !isWorkerConn(name, plain) {
				continue
			}
			ws = append(ws, WorkerInfo{Name: q.name, RawName: name, Fields: f})
		}
		if len(ws) > len(best) {
			best = ws
		}
	}
	return best, nil
}

// Metrics is one of a queue's throughput series (`metrics:completed` or
// `metrics:failed`), as workers with the metrics option record it.
type Metrics struct {
	// Count is the total counted; PrevTS the minute (ms) of the last data
	// point; PrevCount the total at that point.
	Count, PrevTS, PrevCount int64
	// Data are jobs per minute, newest first, from start to end.
	Data []int64
	// Points is the number of data points stored.
	Points int64
}

// GetMetrics reads the "completed" or "failed" series, data points start
// to end (-1: the oldest), as Node's queue.getMetrics(type, start, end),
// atomically. A queue whose workers record no metrics gives zeros.
func (q *Queue) GetMetrics(ctx context.Context, kind string, start, end int64) (Metrics, error) {
	if kind != "completed" && kind != "failed" {
		return Metrics{}, optErr("kind", "GetMetrics takes completed or failed, not %.64q", kind)
	}
	key := q.k.key("metrics:" + kind)
	var meta *redis.SliceCmd
	var data *redis.StringSliceCmd
	var n *redis.IntCmd
	if _, err := q.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		meta = p.HMGet(ctx, key, "count", "prevTS", "prevCount")
		data = p.LRange(ctx, key+":data", start, end)
		n = p.LLen(ctx, key+":data")
		return nil
	}); err != nil {
		return Metrics{}, fmt.Errorf("queue: metrics %s: %w", kind, err)
	}
	num := func(v any) int64 { // parseInt(x || '0', 10); +point || 0
		s, _ := v.(string)
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if ferr != nil {
				return 0
			}
			return int64(f)
		}
		return i
	}
	m := Metrics{Points: n.Val(), Data: []int64{}}
	mv := meta.Val()
	if len(mv) == 3 {
		m.Count, m.PrevTS, m.PrevCount = num(mv[0]), num(mv[1]), num(mv[2])
	}
	for _, p := range data.Val() {
		m.Data = append(m.Data, num(p))
	}
	return m, nil
}

// RemoveRateLimitKey deletes the queue's rate limiter counter (`limiter`)
// so workers may start jobs again at once, as Node's
// queue.removeRateLimitKey(); it returns how many keys were deleted (0 or
// 1).
func (q *Queue) RemoveRateLimitKey(ctx context.Context) (int64, error) {
	n, err := q.c.Del(ctx, q.k.limiter()).Result()
	if err != nil {
		return 0, fmt.Errorf("queue: remove rate limit key: %w", err)
	}
	return n, nil
}
