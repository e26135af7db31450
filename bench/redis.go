package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is the private redis-server of one suite run: loopback, a
// free port, no persistence.
type redisServer struct {
	cmd    *exec.Cmd
	addr   string
	dir    string
	exited chan struct{}
}

// startRedis starts bin, or, when wrap is given, wrap followed by bin (the
// cost mode runs the server under valgrind: the server's pid is then
// valgrind's, which execs the server in place); extra are more server
// options.
func startRedis(ctx context.Context, bin string, wrap []string, extra ...string) (*redisServer, error) {
	dir, err := os.MkdirTemp("", "zyeute-bench-redis-")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &redisServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, exited: make(chan struct{})}
		argv := append(append([]string{}, wrap...), bin,
			"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--protected-mode", "no",
			"--save", "", "--appendonly", "no", "--dir", dir,
			"--logfile", filepath.Join(dir, "redis.log"), "--daemonize", "no",
			"--maxmemory-policy", "noeviction")
		argv = append(argv, extra...)
		s.cmd = exec.Command(argv[0], argv[1:]...)
		dieWithParent(s.cmd)
		if err := s.cmd.Start(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("starting %s: %w (install: apt-get install -y %s)", argv[0], err, debianPackage(argv[0]))
		}
		go func() { _ = s.cmd.Wait(); close(s.exited) }()
		wait := 10 * time.Second
		if len(wrap) > 0 {
			wait = 90 * time.Second // valgrind's start-up is slow
		}
		if lastErr = s.waitReady(ctx, wait); lastErr == nil {
			return s, nil
		}
		s.stop()
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("redis-server did not start: %w", lastErr)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func probeListening(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return conn.Close()
}

func debianPackage(bin string) string {
	if filepath.Base(bin) == "valgrind" {
		return "valgrind"
	}
	return "redis-server"
}

func (s *redisServer) waitReady(ctx context.Context, wait time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(wait)
	for {
		// A plain dial first: go-redis logs every refused dial of its pool,
		// and a server under valgrind takes seconds to listen.
		err := probeListening(s.addr)
		if err == nil {
			if err = c.Ping(ctx).Err(); err == nil {
				return nil
			}
		}
		select {
		case <-s.exited:
			return errors.New("redis-server exited (port taken?)")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG within %s: %w", wait, err)
		}
	}
}

// stop terminates the server (SIGTERM, SIGKILL after 5 s) and removes its
// directory.
func (s *redisServer) stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	os.RemoveAll(s.dir)
}

// infoSnapshot is what one INFO call tells about the server's work so far.
type infoSnapshot struct {
	at       time.Time
	total    int64            // total_commands_processed (includes commands run by scripts)
	cpuSec   float64          // used_cpu_sys + used_cpu_user
	calls    map[string]int64 // commandstats calls per command
	usec     map[string]int64 // commandstats usec per command
	version  string
	pid      int
	rssBytes int64
}

func snapshot(ctx context.Context, c *redis.Client) (infoSnapshot, error) {
	txt, err := c.Info(ctx, "server", "stats", "cpu", "commandstats", "memory").Result()
	if err != nil {
		return infoSnapshot{}, fmt.Errorf("INFO: %w", err)
	}
	return parseInfo(txt), nil
}

func parseInfo(txt string) infoSnapshot {
	s := infoSnapshot{at: time.Now(), calls: map[string]int64{}, usec: map[string]int64{}}
	sc := bufio.NewScanner(strings.NewReader(txt))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		switch k {
		case "total_commands_processed":
			s.total, _ = strconv.ParseInt(v, 10, 64)
		case "used_cpu_sys", "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			s.cpuSec += f
		case "redis_version":
			s.version = v
		case "process_id":
			s.pid, _ = strconv.Atoi(v)
		case "used_memory_rss":
			s.rssBytes, _ = strconv.ParseInt(v, 10, 64)
		default:
			name, ok := strings.CutPrefix(k, "cmdstat_")
			if !ok {
				continue
			}
			for _, f := range strings.Split(v, ",") {
				if n, ok := strings.CutPrefix(f, "calls="); ok {
					s.calls[name], _ = strconv.ParseInt(n, 10, 64)
				}
				if n, ok := strings.CutPrefix(f, "usec="); ok {
					s.usec[name], _ = strconv.ParseInt(n, 10, 64)
				}
			}
		}
	}
	return s
}

// probeCommands are the orchestrator's own commands, left out of every
// delta.
var probeCommands = map[string]bool{"info": true}

// cost is the work Redis did between two snapshots, the probe's own INFO
// calls excluded.
type cost struct {
	Cmds        int64            `json:"cmds"`         // every command, those run inside scripts included
	ScriptCalls int64            `json:"script_calls"` // EVAL/EVALSHA/FCALL: round trips that ran a script
	CPUus       float64          `json:"cpu_us"`       // used_cpu_sys + used_cpu_user of the server process
	Calls       map[string]int64 `json:"calls"`        // per command
	// Usec is commandstats time per command; a script's commands are
	// counted both on their own and inside EVALSHA's time.
	Usec map[string]int64 `json:"usec"`
}

func delta(a, b infoSnapshot) cost {
	c := cost{Calls: map[string]int64{}, Usec: map[string]int64{}, CPUus: (b.cpuSec - a.cpuSec) * 1e6}
	for name, n := range b.calls {
		d := n - a.calls[name]
		if d <= 0 || probeCommands[name] {
			continue
		}
		c.Calls[name] = d
		c.Usec[name] = b.usec[name] - a.usec[name]
		c.Cmds += d
		switch name {
		case "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro":
			c.ScriptCalls += d
		}
	}
	return c
}
