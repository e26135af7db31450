package redistest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterOptions configure StartCluster. The zero value (or nil) is a
// cluster of 3 masters with one replica each.
type ClusterOptions struct {
	// Masters is the number of masters. Defaults to 3 (the minimum for
	// automatic failover: a majority of masters must agree a master failed).
	Masters int
	// NoReplicas starts masters only (no failover possible).
	NoReplicas bool
	// NodeTimeout is cluster-node-timeout. Defaults to 1s: a killed master
	// is replaced after about 2-3s.
	NodeTimeout time.Duration
	// Args are extra redis-server arguments for every node.
	Args []string
}

// Cluster is a Redis Cluster of real redis-server processes on loopback
// ports (each port's cluster bus port, port+10000, is free too). Nodes[i]
// for i < Masters is initially the master of the i-th slot range; Nodes[
// Masters+i] is initially its replica. After a failover CLUSTER SLOTS, not
// the index, says who is master: use MasterOf.
type Cluster struct {
	t     testing.TB
	opts  ClusterOptions
	Nodes []*Server
	ids   map[*Server]string
}

// StartCluster starts the nodes, joins them (CLUSTER MEET), assigns the
// 16384 slots evenly to the masters (CLUSTER ADDSLOTSRANGE), attaches the
// replicas (CLUSTER REPLICATE) and waits until every node reports
// cluster_state:ok with the same slot map and every replica's link is up.
// It fails the test (never skips) when redis-server is missing or the
// cluster does not form within 60s.
func StartCluster(t testing.TB, opts *ClusterOptions) *Cluster {
	t.Helper()
	if _, err := Binary(); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("redis-cli"); err != nil {
		// Not used to build the cluster, but operators debugging a failed
		// test need it; the package ships with redis-server anyway.
		t.Fatalf("redis-cli not found in PATH: install it with: %s", InstallHint)
	}
	c := &Cluster{t: t, ids: map[*Server]string{}}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.Masters == 0 {
		c.opts.Masters = 3
	}
	if c.opts.NodeTimeout == 0 {
		c.opts.NodeTimeout = time.Second
	}
	n := c.opts.Masters
	if !c.opts.NoReplicas {
		n *= 2
	}
	for i := 0; i < n; i++ {
		c.Nodes = append(c.Nodes, c.startNode())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.form(ctx); err != nil {
		t.Fatalf("redistest: forming the cluster: %v", err)
	}
	return c
}

// clusterPort picks a port below the usual ephemeral range (so outgoing
// connections do not take it) whose bus port (port+10000) is free too.
func clusterPort() (int, error) {
	for attempt := 0; attempt < 200; attempt++ {
		p := 12000 + rand.IntN(10000)
		if !portFree(p) || !portFree(p+10000) {
			continue
		}
		return p, nil
	}
	return 0, errors.New("no free port pair (port, port+10000) found")
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func (c *Cluster) startNode() *Server {
	t := c.t
	t.Helper()
	s := &Server{t: t, dir: t.TempDir()}
	s.opts.Args = append([]string{
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.FormatInt(c.opts.NodeTimeout.Milliseconds(), 10),
		// A replica may always take over, however long its link was down.
		"--cluster-replica-validity-factor", "0",
		// Replicas sync at once (the default waits 5s for more replicas).
		"--repl-diskless-sync-delay", "0",
	}, c.opts.Args...)
	s.startOnFreePort(t, clusterPort, "cluster node")
	return s
}

func nodeClient(s *Server) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, MaxRetries: -1})
}

func (c *Cluster) form(ctx context.Context) error {
	for _, s := range c.Nodes {
		cl := nodeClient(s)
		id, err := cl.Do(ctx, "CLUSTER", "MYID").Text()
		cl.Close()
		if err != nil {
			return fmt.Errorf("CLUSTER MYID on %s: %w", s.Addr(), err)
		}
		c.ids[s] = id
	}
	first := nodeClient(c.Nodes[0])
	defer first.Close()
	for _, s := range c.Nodes[1:] {
		if err := first.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(s.Port())).Err(); err != nil {
			return fmt.Errorf("CLUSTER MEET %s: %w", s.Addr(), err)
		}
	}
	m := c.opts.Masters
	for i := 0; i < m; i++ {
		lo, hi := i*16384/m, (i+1)*16384/m-1
		cl := nodeClient(c.Nodes[i])
		err := cl.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err()
		cl.Close()
		if err != nil {
			return fmt.Errorf("CLUSTER ADDSLOTSRANGE %d %d on %s: %w", lo, hi, c.Nodes[i].Addr(), err)
		}
	}
	// A replica can only REPLICATE a master it knows.
	for i, s := range c.Nodes[m:] {
		master := c.Nodes[i]
		cl := nodeClient(s)
		err := poll(ctx, "CLUSTER REPLICATE on "+s.Addr(), func(ctx context.Context) error {
			return cl.Do(ctx, "CLUSTER", "REPLICATE", c.ids[master]).Err()
		})
		cl.Close()
		if err != nil {
			return err
		}
	}
	return c.WaitHealthy(ctx)
}

// ID is the node's cluster id.
func (c *Cluster) ID(s *Server) string { return c.ids[s] }

// Addrs are every node's address (seed list for REDIS_CLUSTER_ADDRS).
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		out[i] = s.Addr()
	}
	return out
}

// Client returns a go-redis cluster client seeded with every node, closed
// at cleanup.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

func (c *Cluster) byAddr(addr string) *Server {
	for _, s := range c.Nodes {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

func (c *Cluster) alive() []*Server {
	var out []*Server
	for _, s := range c.Nodes {
		if s.PID() != 0 {
			out = append(out, s)
		}
	}
	return out
}

// slotMap asks one node for CLUSTER SLOTS and returns a canonical text
// (range -> master address) plus the master of each range.
func slotMap(ctx context.Context, s *Server) (string, []redis.ClusterSlot, error) {
	cl := nodeClient(s)
	defer cl.Close()
	slots, err := cl.ClusterSlots(ctx).Result()
	if err != nil {
		return "", nil, err
	}
	sort.Slice(slots, func(i, j int) bool { return slots[i].Start < slots[j].Start })
	for i := range slots {
		for j := range slots[i].Nodes {
			// A node that never met another does not know its own IP.
			if strings.HasPrefix(slots[i].Nodes[j].Addr, ":") {
				slots[i].Nodes[j].Addr = "127.0.0.1" + slots[i].Nodes[j].Addr
			}
		}
	}
	var b strings.Builder
	for _, r := range slots {
		fmt.Fprintf(&b, "%d-%d=%s;", r.Start, r.End, r.Nodes[0].Addr)
	}
	return b.String(), slots, nil
}

// WaitHealthy waits until every running node reports cluster_state:ok,
// all of them agree on the slot map, every slot is served by a running
// master, and every running replica has master_link_status:up.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	return poll(ctx, "cluster healthy", func(ctx context.Context) error {
		var want string
		for _, s := range c.alive() {
			cl := nodeClient(s)
			info, err := cl.ClusterInfo(ctx).Result()
			if err == nil && !strings.Contains(info, "cluster_state:ok") {
				err = errors.New("cluster_state not ok")
			}
			var repl string
			if err == nil {
				repl, err = cl.Info(ctx, "replication").Result()
			}
			cl.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", s.Addr(), err)
			}
			if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
				return fmt.Errorf("%s: replica link not up", s.Addr())
			}
			m, slots, err := slotMap(ctx, s)
			if err != nil {
				return fmt.Errorf("%s: CLUSTER SLOTS: %w", s.Addr(), err)
			}
			if want == "" {
				want = m
				n := 0
				for _, r := range slots {
					n += int(r.End - r.Start + 1)
					if srv := c.byAddr(r.Nodes[0].Addr); srv == nil || srv.PID() == 0 {
						return fmt.Errorf("slots %d-%d served by %s, which is down", r.Start, r.End, r.Nodes[0].Addr)
					}
				}
				if n != 16384 {
					return fmt.Errorf("%d of 16384 slots assigned", n)
				}
			} else if m != want {
				return fmt.Errorf("nodes disagree on the slot map: %s vs %s", m, want)
			}
		}
		return nil
	})
}

// KeySlot is the hash slot of key (CLUSTER KEYSLOT on a running node).
func (c *Cluster) KeySlot(ctx context.Context, key string) (int, error) {
	for _, s := range c.alive() {
		cl := nodeClient(s)
		n, err := cl.ClusterKeySlot(ctx, key).Result()
		cl.Close()
		if err == nil {
			return int(n), nil
		}
	}
	return 0, errors.New("redistest: no running node answered CLUSTER KEYSLOT")
}

// MasterOf is the server that a running node says serves slot.
func (c *Cluster) MasterOf(ctx context.Context, slot int) (*Server, error) {
	var lastErr error = errors.New("no running node")
	for _, s := range c.alive() {
		_, slots, err := slotMap(ctx, s)
		if err != nil {
			lastErr = err
			continue
		}
		for _, r := range slots {
			if int(r.Start) <= slot && slot <= int(r.End) {
				if srv := c.byAddr(r.Nodes[0].Addr); srv != nil {
					return srv, nil
				}
				return nil, fmt.Errorf("redistest: slot %d served by unknown node %s", slot, r.Nodes[0].Addr)
			}
		}
		return nil, fmt.Errorf("redistest: slot %d not served", slot)
	}
	return nil, lastErr
}

// Masters are the servers currently serving slots, in slot order.
func (c *Cluster) Masters(ctx context.Context) ([]*Server, error) {
	for _, s := range c.alive() {
		_, slots, err := slotMap(ctx, s)
		if err != nil {
			continue
		}
		var out []*Server
		seen := map[*Server]bool{}
		for _, r := range slots {
			if srv := c.byAddr(r.Nodes[0].Addr); srv != nil && !seen[srv] {
				seen[srv] = true
				out = append(out, srv)
			}
		}
		return out, nil
	}
	return nil, errors.New("redistest: no running node answered CLUSTER SLOTS")
}

// KillMaster sends SIGKILL to the master serving slot and returns it.
func (c *Cluster) KillMaster(ctx context.Context, slot int) (*Server, error) {
	m, err := c.MasterOf(ctx, slot)
	if err != nil {
		return nil, err
	}
	m.Kill()
	return m, nil
}

// WaitPromotion waits until a running node other than old serves slot as
// master, and the cluster is healthy again (every running node agrees,
// cluster_state:ok). It returns the new master.
func (c *Cluster) WaitPromotion(ctx context.Context, slot int, old *Server) (*Server, error) {
	var got *Server
	err := poll(ctx, fmt.Sprintf("promotion for slot %d", slot), func(ctx context.Context) error {
		m, err := c.MasterOf(ctx, slot)
		if err != nil {
			return err
		}
		if m == old || m.PID() == 0 {
			return fmt.Errorf("slot %d still served by %s", slot, m.Addr())
		}
		cl := nodeClient(m)
		role, err := cl.Do(ctx, "ROLE").Slice()
		cl.Close()
		if err != nil {
			return err
		}
		if len(role) == 0 || role[0] != "master" {
			return fmt.Errorf("%s has role %v", m.Addr(), role)
		}
		got = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	return got, c.WaitHealthy(ctx)
}

// RestartAsReplica restarts a killed node on its port with its
// nodes.conf (same id); the cluster tells it that its slots moved and it
// becomes a replica of their new master. It waits until its replication
// link is up and the cluster is healthy.
func (c *Cluster) RestartAsReplica(ctx context.Context, s *Server) error {
	s.Restart()
	cl := nodeClient(s)
	defer cl.Close()
	if err := poll(ctx, s.Addr()+" replica link up", func(ctx context.Context) error {
		info, err := cl.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "role:slave") || !strings.Contains(info, "master_link_status:up") {
			return errors.New("not a linked replica yet")
		}
		return nil
	}); err != nil {
		return err
	}
	return c.WaitHealthy(ctx)
}

// MoveSlot migrates slot, with its keys, from its current master to dst
// (a master): SETSLOT IMPORTING/MIGRATING, MIGRATE of every key, then
// SETSLOT NODE on every master. Clients see ASK during the move and MOVED
// after it.
func (c *Cluster) MoveSlot(ctx context.Context, slot int, dst *Server) error {
	src, err := c.MasterOf(ctx, slot)
	if err != nil {
		return err
	}
	if src == dst {
		return nil
	}
	sc, dc := nodeClient(src), nodeClient(dst)
	defer sc.Close()
	defer dc.Close()
	if err := dc.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", c.ids[src]).Err(); err != nil {
		return fmt.Errorf("SETSLOT IMPORTING on %s: %w", dst.Addr(), err)
	}
	if err := sc.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", c.ids[dst]).Err(); err != nil {
		return fmt.Errorf("SETSLOT MIGRATING on %s: %w", src.Addr(), err)
	}
	for {
		keys, err := sc.ClusterGetKeysInSlot(ctx, slot, 100).Result()
		if err != nil {
			return fmt.Errorf("GETKEYSINSLOT: %w", err)
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", "127.0.0.1", dst.Port(), "", 0, 5000, "REPLACE", "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		if err := sc.Do(ctx, args...).Err(); err != nil {
			return fmt.Errorf("MIGRATE: %w", err)
		}
	}
	masters, err := c.Masters(ctx)
	if err != nil {
		return err
	}
	// The destination first, so that it owns the slot before the source
	// starts redirecting.
	for _, m := range append([]*Server{dst, src}, masters...) {
		cl := nodeClient(m)
		err := cl.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", c.ids[dst]).Err()
		cl.Close()
		if err != nil {
			return fmt.Errorf("SETSLOT NODE on %s: %w", m.Addr(), err)
		}
	}
	return c.WaitHealthy(ctx)
}

// ReplicasOf are the running servers that master lists as connected
// replicas (INFO replication).
func (c *Cluster) ReplicasOf(ctx context.Context, master *Server) ([]*Server, error) {
	cl := nodeClient(master)
	defer cl.Close()
	info, err := cl.Info(ctx, "replication").Result()
	if err != nil {
		return nil, err
	}
	var out []*Server
	for _, line := range strings.Split(info, "\n") {
		if !strings.HasPrefix(line, "slave") || !strings.Contains(line, "port=") {
			continue
		}
		port := line[strings.Index(line, "port=")+len("port="):]
		if i := strings.IndexByte(port, ','); i >= 0 {
			port = port[:i]
		}
		if s := c.byAddr(net.JoinHostPort("127.0.0.1", strings.TrimSpace(port))); s != nil {
			out = append(out, s)
		}
	}
	return out, nil
}
