package doctor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/queue"
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

// queueClient is a go-redis client to addr with the target's credentials
// and TLS (through doctor's own dialer), for package queue's reads: one
// connection, no retries, each command bounded by the check's deadline.
func (d *diag) queueClient(addr string, db int) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: addr, Username: d.t.Username, Password: d.t.Password, DB: db,
		Protocol: 2, DisableIdentity: true, MaxRetries: -1, PoolSize: 1, ContextTimeoutEnabled: true,
		DialTimeout: d.o.CheckTimeout,
		Dialer: func(ctx context.Context, _, a string) (net.Conn, error) {
			return d.dialNet(ctx, a, d.server.Host)
		},
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			_ = cn.ClientSetName(ctx, ClientName).Err() // a user without CLIENT SETNAME still gets its answers
			return nil
		},
	})
}

// checkQueuesOne lists the queues of the one data node (single server,
// sentinel master) and their health.
func (d *diag) checkQueuesOne(ctx context.Context, c *Check) string {
	rc := d.queueClient(d.addr, d.t.DB)
	defer rc.Close()
	d.queuesOn(ctx, c, rc)
	return ""
}

// queuesOn lists the queues on one node through package queue (discovery,
// Stats, CountWorkers) and reports each.
func (d *diag) queuesOn(ctx context.Context, c *Check, rc *redis.Client) {
	prefix := d.t.QueuePrefix
	data := &QueuesData{Prefix: prefix}
	c.Data = data
	found, err := queue.DiscoverQueues(ctx, rc, prefix, &queue.DiscoverOptions{MaxScanKeys: d.o.MaxScanKeys})
	names := found.Names
	data.ScannedKeys, data.Truncated = found.ScannedKeys, found.Truncated
	if err != nil && len(names) == 0 {
		var re redis.Error
		if errors.As(err, &re) {
			add(c, "scan_denied", StatusWarn, "cannot list the queues: "+firstLine(re.Error()),
				fmt.Sprintf("ACL SETUSER %s +scan (doctor and `zyeute queue` need SCAN to find queues)", d.user))
			return
		}
		code, msg, fix := classifyConnErr(d.server, errors.Unwrap(err), d.o.CheckTimeout)
		add(c, code, StatusFail, msg, fix)
		return
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
		return
	}

	workers, werr := queue.CountWorkers(ctx, rc, prefix, names)
	data.WorkersKnown = werr == nil
	now := d.o.Now()
	for _, name := range names {
		if ctx.Err() != nil {
			data.Truncated = true
			break
		}
		qs, err := d.queueStats(ctx, rc, name, now)
		if err != nil {
			add(c, "queue_error", StatusWarn, fmt.Sprintf("%s: cannot read: %s", name, firstLine(err.Error())), "")
			continue
		}
		qs.Workers = workers[name]
		data.Queues = append(data.Queues, qs)
		d.queueFindings(c, qs, data.WorkersKnown)
	}
	if data.Truncated {
		add(c, "truncated", StatusOK, fmt.Sprintf("the listing is partial: stopped after %d queue keys / %d queues / the check timeout", data.ScannedKeys, len(data.Queues)), "")
	}
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

// queueStats reads one queue's numbers with queue.Stats (one script,
// which only reads).
func (d *diag) queueStats(ctx context.Context, rc *redis.Client, name string, now time.Time) (QueueStats, error) {
	q, err := queue.NewQueue(rc, name, &queue.QueueOptions{Prefix: d.t.QueuePrefix, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return QueueStats{}, err
	}
	st, err := q.Stats(ctx, &queue.StatsOptions{MaxActiveChecked: d.o.MaxActiveChecked, MaxLocklessIDs: 10})
	if err != nil {
		return QueueStats{}, err
	}
	c := st.Counts
	qs := QueueStats{Name: name, Wait: c.Waiting, Active: c.Active, Delayed: c.Delayed, Prioritized: c.Prioritized,
		WaitingChildren: c.WaitingChildren, Completed: c.Completed, Failed: c.Failed, Paused: st.Paused,
		Stalled: int(st.ActiveWithoutLock), ActiveChecked: int(st.ActiveChecked), OldestWaitingMS: -1}
	if len(st.LocklessIDs) > 0 {
		qs.StalledIDs = st.LocklessIDs
	}
	if !st.OldestWaiting.IsZero() {
		qs.OldestWaitingMS = max(0, now.Sub(st.OldestWaiting).Milliseconds())
	}
	return qs, nil
}
