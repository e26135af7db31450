package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelOptions configure StartSentinel. The zero value (or nil) is usable.
type SentinelOptions struct {
	// MasterName is the monitored master's name. Defaults to "mymaster".
	MasterName string
	// DownAfter is sentinel down-after-milliseconds. Defaults to 500ms.
	DownAfter time.Duration
	// FailoverTimeout is sentinel failover-timeout. Defaults to 2s.
	FailoverTimeout time.Duration
}

// Sentinel is a master, one replica and one sentinel (quorum 1), each a
// redis-server on its own free loopback port, all killed at test end. Master
// and Replica are the initial roles: after a failover the sentinel, not
// these fields, says which one is the master (MasterAddr).
type Sentinel struct {
	t          testing.TB
	MasterName string
	Master     *Server
	Replica    *Server

	dir      string
	port     int
	opts     SentinelOptions
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	confFile string
}

// StartSentinel starts the master, the replica and the sentinel, and waits
// until the replica's link is up and the sentinel knows the master and the
// replica (so that SENTINEL FAILOVER can succeed). It fails the test when
// anything does not come up within 30s.
func StartSentinel(t testing.TB, opts *SentinelOptions) *Sentinel {
	t.Helper()
	s := &Sentinel{t: t, dir: t.TempDir()}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.MasterName == "" {
		s.opts.MasterName = "mymaster"
	}
	if s.opts.DownAfter == 0 {
		s.opts.DownAfter = 500 * time.Millisecond
	}
	if s.opts.FailoverTimeout == 0 {
		s.opts.FailoverTimeout = 2 * time.Second
	}
	s.MasterName = s.opts.MasterName
	s.Master = Start(t, nil)
	s.Replica = Start(t, &Options{Args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port())}})

	var lastErr error
	started := false
	for attempt := 0; attempt < 5 && !started; attempt++ {
		port, err := FreePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s.port = port
		if lastErr = s.start(); lastErr == nil {
			started = true
		}
	}
	if !started {
		t.Fatalf("redistest: starting sentinel: %v", lastErr)
	}
	t.Cleanup(s.Kill)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitReplicaLinked(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitSentinelReady(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *Sentinel) writeConf() error {
	s.confFile = filepath.Join(s.dir, "sentinel.conf")
	name := s.opts.MasterName
	conf := strings.Join([]string{
		"port " + strconv.Itoa(s.port),
		"bind 127.0.0.1",
		"daemonize no",
		"protected-mode no",
		"dir " + s.dir,
		"logfile " + s.LogFile(),
		"sentinel resolve-hostnames no",
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1", name, s.Master.Port()),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", name, s.opts.DownAfter.Milliseconds()),
		fmt.Sprintf("sentinel failover-timeout %s %d", name, s.opts.FailoverTimeout.Milliseconds()),
		fmt.Sprintf("sentinel parallel-syncs %s 1", name),
		"",
	}, "\n")
	// Sentinel rewrites its config file: it must be writable.
	return os.WriteFile(s.confFile, []byte(conf), 0o600)
}

func (s *Sentinel) start() error {
	bin, err := Binary()
	if err != nil {
		return err
	}
	if err := s.writeConf(); err != nil {
		return fmt.Errorf("writing sentinel config: %w", err)
	}
	_ = os.Remove(s.LogFile())
	cmd := exec.Command(bin, s.confFile, "--sentinel")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec redis-server --sentinel: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	c := s.Client(nil)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("sentinel exited at startup: %s", tail(s.LogFile()))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Kill()
	return fmt.Errorf("sentinel not ready after 10s: %s", tail(s.LogFile()))
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// Kill sends SIGKILL to the sentinel and waits for it to go. Safe to call
// twice. The master and the replica are killed by their own cleanups.
func (s *Sentinel) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// LogFile is the sentinel's log path.
func (s *Sentinel) LogFile() string { return filepath.Join(s.dir, "sentinel.log") }

// ConfFile is the sentinel's (rewritten) config file.
func (s *Sentinel) ConfFile() string { return s.confFile }

// Addr is the sentinel's "127.0.0.1:<port>".
func (s *Sentinel) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Client returns a client for the sentinel itself; with t non-nil it is
// closed at cleanup.
func (s *Sentinel) Client(t testing.TB) *redis.SentinelClient {
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second})
	if t != nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c
}

// poll calls check every 20ms until it returns nil or ctx ends; the error
// then names what and the last reason.
func poll(ctx context.Context, what string, check func(context.Context) error) error {
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		last = check(cctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: %s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// WaitReplicaLinked waits until the initial replica reports
// master_link_status:up.
func (s *Sentinel) WaitReplicaLinked(ctx context.Context) error {
	c := redis.NewClient(s.Replica.Options())
	defer c.Close()
	return poll(ctx, "replica link up", func(ctx context.Context) error {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return errors.New("master_link_status not up")
		}
		return nil
	})
}

// WaitSentinelReady waits until the sentinel knows the master (not down)
// and at least one replica that is neither down nor disconnected.
func (s *Sentinel) WaitSentinelReady(ctx context.Context) error {
	c := s.Client(nil)
	defer c.Close()
	return poll(ctx, "sentinel knows master and replica", func(ctx context.Context) error {
		m, err := c.Master(ctx, s.MasterName).Result()
		if err != nil {
			return err
		}
		if f := m["flags"]; f != "master" {
			return fmt.Errorf("master flags %q", f)
		}
		reps, err := c.Replicas(ctx, s.MasterName).Result()
		if err != nil {
			return err
		}
		for _, r := range reps {
			if r["flags"] == "slave" && r["master-link-status"] == "ok" {
				return nil
			}
		}
		return fmt.Errorf("no healthy replica known yet (%d listed)", len(reps))
	})
}

// MasterAddr asks the sentinel for the current master's address.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	c := s.Client(nil)
	defer c.Close()
	parts, err := c.GetMasterAddrByName(ctx, s.MasterName).Result()
	if err != nil {
		return "", err
	}
	if len(parts) != 2 {
		return "", fmt.Errorf("redistest: unexpected master address %v", parts)
	}
	return net.JoinHostPort(parts[0], parts[1]), nil
}

// Failover waits until the replica has every write the master accepted
// before the call (WaitReplicated: a forced failover does not wait for
// replication, and would otherwise promote a replica that lacks the last
// writes), runs SENTINEL FAILOVER (no agreement needed) and waits until
// the sentinel reports a master other than the previous one, and that
// master answers ROLE with "master". It returns the new master's address.
func (s *Sentinel) Failover(ctx context.Context) (string, error) {
	old, err := s.MasterAddr(ctx)
	if err != nil {
		return "", err
	}
	if err := s.WaitReplicated(ctx); err != nil {
		return "", err
	}
	c := s.Client(nil)
	defer c.Close()
	if err := poll(ctx, "SENTINEL FAILOVER", func(ctx context.Context) error {
		return c.Failover(ctx, s.MasterName).Err()
	}); err != nil {
		return "", err
	}
	return s.WaitNewMaster(ctx, old)
}

// WaitReplicated waits until the replica has processed every write the
// current master had accepted when it was called: its slave_repl_offset
// reaches the master's master_repl_offset (the offset-based form of
// WAIT 1, which only covers the calling connection's own writes).
func (s *Sentinel) WaitReplicated(ctx context.Context) error {
	addr, err := s.MasterAddr(ctx)
	if err != nil {
		return err
	}
	master := s.server(addr)
	if master == nil {
		return fmt.Errorf("redistest: sentinel names master %s, which is not ours", addr)
	}
	replica := s.Replica
	if master == s.Replica {
		replica = s.Master
	}
	mc := redis.NewClient(master.Options())
	defer mc.Close()
	rc := redis.NewClient(replica.Options())
	defer rc.Close()
	var target int64
	if err := poll(ctx, "master replication offset", func(ctx context.Context) error {
		info, err := mc.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		target, err = infoInt(info, "master_repl_offset")
		return err
	}); err != nil {
		return err
	}
	return poll(ctx, fmt.Sprintf("replica %s at offset %d", replica.Addr(), target), func(ctx context.Context) error {
		info, err := rc.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return errors.New("master_link_status not up")
		}
		off, err := infoInt(info, "slave_repl_offset")
		if err != nil {
			return err
		}
		if off < target {
			return fmt.Errorf("replica at offset %d", off)
		}
		return nil
	})
}

// infoInt reads an integer field of an INFO reply.
func infoInt(info, field string) (int64, error) {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO has no %s", field)
}

// KillMaster sends SIGKILL to whichever server the sentinel currently names
// master and returns its address; the sentinel then fails over on its own
// after DownAfter (use WaitNewMaster).
func (s *Sentinel) KillMaster(ctx context.Context) (string, error) {
	addr, err := s.MasterAddr(ctx)
	if err != nil {
		return "", err
	}
	srv := s.server(addr)
	if srv == nil {
		return "", fmt.Errorf("redistest: sentinel names master %s, which is not ours", addr)
	}
	srv.Kill()
	return addr, nil
}

// server maps an address to the Master or Replica server.
func (s *Sentinel) server(addr string) *Server {
	switch addr {
	case s.Master.Addr():
		return s.Master
	case s.Replica.Addr():
		return s.Replica
	}
	return nil
}

// WaitNewMaster waits until the sentinel names a master other than old and
// that server answers ROLE with "master"; it returns the new address.
func (s *Sentinel) WaitNewMaster(ctx context.Context, old string) (string, error) {
	var addr string
	err := poll(ctx, "new master after "+old, func(ctx context.Context) error {
		a, err := s.MasterAddr(ctx)
		if err != nil {
			return err
		}
		if a == old {
			return errors.New("sentinel still names the old master")
		}
		srv := s.server(a)
		if srv == nil {
			return fmt.Errorf("sentinel names unknown master %s", a)
		}
		c := redis.NewClient(srv.Options())
		defer c.Close()
		role, err := c.Do(ctx, "ROLE").Slice()
		if err != nil {
			return err
		}
		if len(role) == 0 || role[0] != "master" {
			return fmt.Errorf("%s has role %v", a, role)
		}
		addr = a
		return nil
	})
	return addr, err
}
