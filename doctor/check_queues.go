package doctor

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// QueuesData is the Data of the queues check.
type QueuesData struct {
	Prefix string       `json:"prefix"`
	Queues []QueueStats `json:"queues"`
	// ScannedKeys is how many matching keys the discovery SCAN returned;
	// Truncated is true when a bound (keys, queues or time) stopped it.
	ScannedKeys int  `json:"scanned_keys"`
	Truncated   bool `json:"truncated"`
	// WorkersKnown is false when CLIENT LIST is not allowed.
	WorkersKnown bool `json:"workers_known"`
}

// QueueStats describes one BullMQ queue.
type QueueStats struct {
	Name            string `json:"name"`
	Wait            int64  `json:"wait"`
	Active          int64  `json:"active"`
	Delayed         int64  `json:"delayed"`
	Prioritized     int64  `json:"prioritized"`
	WaitingChildren int64  `json:"waiting_children"`
	Completed       int64  `json:"completed"`
	Failed          int64  `json:"failed"`
	Paused          bool   `json:"paused"`
	// Stalled counts active jobs whose lock is gone (among ActiveChecked);
	// StalledIDs lists up to 10 of them.
	Stalled       int      `json:"stalled"`
	StalledIDs    []string `json:"stalled_ids,omitempty"`
	ActiveChecked int      `json:"active_checked"`
	// OldestWaitingMS is the age of the next job in wait (its timestamp),
	// -1 when wait is empty or the job has no timestamp.
	OldestWaitingMS int64 `json:"oldest_waiting_ms"`
	Workers         int   `json:"workers"`
}

// queueKeySuffixes are the queue-level key suffixes that reveal a queue.
var queueKeySuffixes = []string{"meta", "id", "wait", "active", "delayed", "prioritized", "completed", "failed",
	"events", "marker", "waiting-children", "paused"}

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

// queueName returns the queue a key belongs to, or "" when the key is not a
// queue-level key under prefix (job hashes, locks, the relay's
// "<prefix>::relay:*" keys).
func queueName(prefix, key string) string {
	rest, ok := strings.CutPrefix(key, prefix+":")
	if !ok || strings.HasPrefix(rest, ":") {
		return ""
	}
	name, suffix, ok := strings.Cut(rest, ":")
	if !ok || name == "" || strings.Contains(suffix, ":") || !slices.Contains(queueKeySuffixes, suffix) {
		return ""
	}
	return name
}

func (d *diag) checkQueuesOne(ctx context.Context, c *Check) string {
	prefix := d.t.QueuePrefix
	data := &QueuesData{Prefix: prefix}
	c.Data = data
	names, scanned, truncated, err := d.discoverQueues(ctx, prefix)
	data.ScannedKeys, data.Truncated = scanned, truncated
	if err != nil && len(names) == 0 {
		var re redisError
		if errors.As(err, &re) {
			add(c, "scan_denied", StatusWarn, "cannot list the queues: "+firstLine(string(re)),
				fmt.Sprintf("ACL SETUSER %s +scan (doctor and `zyeute queue` need SCAN to find queues)", d.user))
			return ""
		}
		code, msg, fix := classifyConnErr(d.server, err, d.o.CheckTimeout)
		add(c, code, StatusFail, msg, fix)
		return ""
	}
	if len(names) > d.o.MaxQueues {
		names, data.Truncated = names[:d.o.MaxQueues], true
	}
	if len(names) == 0 {
		msg := fmt.Sprintf("no queues under the prefix %q yet", prefix)
		if d.t.mode() == "cluster" {
			msg += " (on the seed node " + d.server.String() + ")"
		}
		add(c, "no_queues", StatusOK, msg, "")
		return ""
	}

	workers, workersKnown := d.workerCounts(ctx, prefix)
	data.WorkersKnown = workersKnown
	now := d.o.Now().UnixMilli()
	for _, name := range names {
		if ctx.Err() != nil {
			data.Truncated = true
			break
		}
		qs, err := d.queueStats(ctx, prefix, name, now)
		if err != nil {
			add(c, "queue_error", StatusWarn, fmt.Sprintf("%s: cannot read: %s", name, firstLine(err.Error())), "")
			continue
		}
		qs.Workers = workers[name]
		data.Queues = append(data.Queues, qs)
		d.queueFindings(c, qs, workersKnown)
	}
	if data.Truncated {
		add(c, "truncated", StatusOK, fmt.Sprintf("the listing is partial: stopped after %d keys / %d queues / the check timeout", scanned, len(data.Queues)), "")
	}
	return ""
}

func (d *diag) queueFindings(c *Check, q QueueStats, workersKnown bool) {
	msg := fmt.Sprintf("%s: %d waiting", q.Name, q.Wait)
	if q.OldestWaitingMS >= 0 {
		msg += " (oldest " + roundDur(time.Duration(q.OldestWaitingMS)*time.Millisecond) + ")"
	}
	msg += fmt.Sprintf(", %d active, %d delayed, %d prioritized, %d completed, %d failed", q.Active, q.Delayed, q.Prioritized, q.Completed, q.Failed)
	if q.WaitingChildren > 0 {
		msg += fmt.Sprintf(", %d waiting-children", q.WaitingChildren)
	}
	if q.Paused {
		msg += ", paused"
	}
	if workersKnown {
		msg += fmt.Sprintf("; %d worker(s) connected", q.Workers)
	} else {
		msg += "; workers unknown (CLIENT LIST not allowed)"
	}
	switch {
	case q.Stalled > 0:
		ids := strings.Join(q.StalledIDs, ", ")
		add(c, "stalled", StatusWarn,
			msg+fmt.Sprintf("; %d active job(s) have no lock (stalled: their worker died), ids: %s", q.Stalled, ids),
			"start a worker (zyeute worker): its stalled check moves them back to wait within the stalled interval (30 s);\n"+
				"jobs that stall more than maxStalledCount times go to failed")
	case workersKnown && q.Workers == 0 && !q.Paused && (q.Wait > 0 || q.Prioritized > 0):
		add(c, "no_workers", StatusWarn, msg+": jobs are waiting but no worker is connected",
			"start a worker for this queue (zyeute worker, or zyeute serve which runs workers in-process)")
	default:
		add(c, "queue", StatusOK, msg, "")
	}
}

// discoverQueues SCANs for queue-level keys under prefix, bounded by
// MaxScanKeys and the context.
func (d *diag) discoverQueues(ctx context.Context, prefix string) (names []string, scanned int, truncated bool, err error) {
	const count = 1000
	seen := map[string]bool{}
	cursor := "0"
	maxIter := max(1, d.o.MaxScanKeys/count)
	for iter := 0; ; iter++ {
		if iter >= maxIter || ctx.Err() != nil {
			truncated = true
			break
		}
		v, err := d.conn.do(ctx, "SCAN", cursor, "MATCH", globEscape(prefix)+":*", "COUNT", strconv.Itoa(count))
		if err != nil {
			if ctx.Err() != nil && len(seen) > 0 {
				truncated = true
				break
			}
			return sortedKeys(seen), scanned, truncated, err
		}
		arr, _ := v.([]any)
		if len(arr) != 2 {
			return sortedKeys(seen), scanned, truncated, fmt.Errorf("unexpected SCAN reply")
		}
		cursor = asString(arr[0])
		keys, _ := arr[1].([]any)
		for _, k := range keys {
			scanned++
			if n := queueName(prefix, asString(k)); n != "" {
				seen[n] = true
			}
		}
		if cursor == "0" {
			break
		}
	}
	return sortedKeys(seen), scanned, truncated, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// workerCounts counts BullMQ worker connections per queue from CLIENT LIST:
// names "<prefix>:<base64(queue)>" or starting with
// "<prefix>:<base64(queue)>:w:".
func (d *diag) workerCounts(ctx context.Context, prefix string) (map[string]int, bool) {
	v, err := d.conn.do(ctx, "CLIENT", "LIST")
	if err != nil {
		return nil, false
	}
	counts := map[string]int{}
	for _, line := range strings.Split(asString(v), "\n") {
		var name string
		for _, f := range strings.Fields(line) {
			if n, ok := strings.CutPrefix(f, "name="); ok {
				name = n
				break
			}
		}
		rest, ok := strings.CutPrefix(name, prefix+":")
		if !ok || rest == "" {
			continue
		}
		enc, tail, hasTail := strings.Cut(rest, ":")
		if hasTail && !strings.HasPrefix(tail, "w:") {
			continue // QueueEvents (":qe") and others are not workers
		}
		q, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			continue
		}
		counts[string(q)]++
	}
	return counts, true
}

func (d *diag) queueStats(ctx context.Context, prefix, name string, nowMS int64) (QueueStats, error) {
	k := func(s string) string { return prefix + ":" + name + ":" + s }
	qs := QueueStats{Name: name, OldestWaitingMS: -1}
	cmds := [][]string{
		{"LLEN", k("wait")},
		{"LLEN", k("active")},
		{"ZCARD", k("delayed")},
		{"ZCARD", k("prioritized")},
		{"ZCARD", k("waiting-children")},
		{"ZCARD", k("completed")},
		{"ZCARD", k("failed")},
		{"HEXISTS", k("meta"), "paused"},
		{"LINDEX", k("wait"), "-1"},
		{"LRANGE", k("active"), "0", strconv.Itoa(d.o.MaxActiveChecked - 1)},
	}
	vals, errs, err := d.conn.pipeline(ctx, cmds)
	if err != nil {
		return qs, err
	}
	for _, e := range errs {
		if e != nil {
			return qs, e
		}
	}
	qs.Wait, qs.Active, qs.Delayed = asInt(vals[0]), asInt(vals[1]), asInt(vals[2])
	qs.Prioritized, qs.WaitingChildren = asInt(vals[3]), asInt(vals[4])
	qs.Completed, qs.Failed = asInt(vals[5]), asInt(vals[6])
	qs.Paused = asInt(vals[7]) == 1

	if next := asString(vals[8]); next != "" {
		if v, err := d.conn.do(ctx, "HGET", k(next), "timestamp"); err == nil {
			if ts, err := strconv.ParseInt(asString(v), 10, 64); err == nil && ts > 0 {
				qs.OldestWaitingMS = max(0, nowMS-ts)
			}
		}
	}

	active, _ := vals[9].([]any)
	ids := make([]string, 0, len(active))
	for _, a := range active {
		ids = append(ids, asString(a))
	}
	qs.ActiveChecked = len(ids)
	stalled, err := d.stalledIDs(ctx, k, ids)
	if err != nil {
		return qs, err
	}
	qs.Stalled = len(stalled)
	qs.StalledIDs = stalled[:min(10, len(stalled))]
	return qs, nil
}

// stalledIDs returns the active ids whose lock does not exist. A job that
// finishes between the two reads would look stalled, so candidates are
// checked again: still in active (LPOS) and still without a lock.
func (d *diag) stalledIDs(ctx context.Context, k func(string) string, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([][]string, len(ids))
	for i, id := range ids {
		cmds[i] = []string{"EXISTS", k(id + ":lock")}
	}
	vals, errs, err := d.conn.pipeline(ctx, cmds)
	if err != nil {
		return nil, err
	}
	var cand []string
	for i, id := range ids {
		if errs[i] == nil && asInt(vals[i]) == 0 {
			cand = append(cand, id)
		}
	}
	if len(cand) == 0 {
		return nil, nil
	}
	cmds = cmds[:0]
	for _, id := range cand {
		cmds = append(cmds, []string{"EXISTS", k(id + ":lock")}, []string{"LPOS", k("active"), id})
	}
	vals, errs, err = d.conn.pipeline(ctx, cmds)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, id := range cand {
		lockGone := errs[2*i] == nil && asInt(vals[2*i]) == 0
		// LPOS missing (Redis < 6.0.6) counts as "still active".
		stillActive := errs[2*i+1] != nil || vals[2*i+1] != nil
		if lockGone && stillActive {
			out = append(out, id)
		}
	}
	return out, nil
}
