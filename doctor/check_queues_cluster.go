package doctor

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
)

// checkQueues lists the queues and their health. On a cluster the queues
// live on the masters serving their slots (with a hash-tagged prefix, all
// on one master): every master is read, each through its own connection,
// and the results are merged.
func (d *diag) checkQueues(ctx context.Context, c *Check) string {
	if d.t.mode() != "cluster" {
		return d.checkQueuesOne(ctx, c)
	}
	masters, err := d.clusterMasters(ctx)
	if err != nil || len(masters) == 0 {
		return d.checkQueuesOne(ctx, c)
	}
	merged := &QueuesData{Prefix: d.t.QueuePrefix, WorkersKnown: true}
	c.Data = merged
	scannedMasters := 0
	for _, addr := range masters {
		if ctx.Err() != nil {
			merged.Truncated = true
			break
		}
		rc := d.queueClient(addr, 0)
		if err := rc.Ping(ctx).Err(); err != nil && addr != d.addr {
			_ = rc.Close()
			add(c, "cluster_master_unreachable", StatusWarn,
				fmt.Sprintf("cannot reach the cluster master %s to list its queues: %s", addr, firstLine(err.Error())),
				"check that the addresses the nodes announce (CLUSTER SLOTS) are reachable from here")
			continue
		}
		var one Check
		d.queuesOn(ctx, &one, rc)
		_ = rc.Close()
		scannedMasters++
		if data, ok := one.Data.(*QueuesData); ok {
			merged.Queues = append(merged.Queues, data.Queues...)
			merged.ScannedKeys += data.ScannedKeys
			merged.Truncated = merged.Truncated || data.Truncated
			if len(data.Queues) > 0 { // a master without queues did not ask
				merged.WorkersKnown = merged.WorkersKnown && data.WorkersKnown
			}
		}
		for _, f := range one.Findings {
			if f.Code != "no_queues" && !slices.Contains(c.Findings, f) {
				add(c, f.Code, f.Status, f.Message, f.Fix)
			}
		}
	}
	if len(merged.Queues) == 0 && len(c.Findings) == 0 {
		add(c, "no_queues", StatusOK, fmt.Sprintf("no queues under the prefix %q yet (on %d cluster master(s))", d.t.QueuePrefix, scannedMasters), "")
	}
	return ""
}

// clusterMasters returns the ip:port of every master serving slots, from
// CLUSTER SLOTS on the seed connection. An empty ip means the seed's host.
func (d *diag) clusterMasters(ctx context.Context) ([]string, error) {
	v, err := d.conn.do(ctx, "CLUSTER", "SLOTS")
	if err != nil {
		return nil, err
	}
	ranges, _ := v.([]any)
	seen := map[string]bool{}
	var out []string
	for _, r := range ranges {
		rr, _ := r.([]any)
		if len(rr) < 3 {
			continue
		}
		node, _ := rr[2].([]any)
		if len(node) < 2 {
			continue
		}
		host := asString(node[0])
		if host == "" || host == "?" {
			host, _, _ = net.SplitHostPort(d.addr)
		}
		var port string
		switch p := node[1].(type) {
		case int64:
			port = strconv.FormatInt(p, 10)
		default:
			port = asString(p)
		}
		addr := net.JoinHostPort(host, port)
		if !seen[addr] {
			seen[addr] = true
			out = append(out, addr)
		}
	}
	return out, nil
}
