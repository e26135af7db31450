package redistest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	s := StartSentinel(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	addr, err := s.MasterAddr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if addr != s.Master.Addr() {
		t.Fatalf("sentinel names master %s, want %s", addr, s.Master.Addr())
	}
	conf, err := readFile(s.ConfFile())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(conf, "sentinel monitor "+s.MasterName+" 127.0.0.1") {
		t.Fatalf("sentinel config has no monitor line:\n%s", conf)
	}

	key := KeyPrefix(t) + ":k"
	if err := s.Master.Client(t).Set(ctx, key, "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}

	newAddr, err := s.Failover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if newAddr != s.Replica.Addr() {
		t.Fatalf("new master %s, want the replica %s", newAddr, s.Replica.Addr())
	}
	// The promoted replica has the data and takes writes.
	nc := s.Replica.Client(t)
	if v, err := nc.Get(ctx, key).Result(); err != nil || v != "v1" {
		t.Fatalf("GET on new master: %q, %v", v, err)
	}
	if err := nc.Set(ctx, key, "v2", 0).Err(); err != nil {
		t.Fatalf("SET on new master: %v", err)
	}
	// The old master is demoted: writes there fail with READONLY once the
	// sentinel has reconfigured it (bounded wait).
	oc := s.Master.Client(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := oc.Set(ctx, key, "stale", 0).Err()
		if redis.IsReadOnlyError(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("old master still accepts writes (last err %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSentinelKillMaster(t *testing.T) {
	t.Parallel()
	s := StartSentinel(t, &SentinelOptions{MasterName: "other-master"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old, err := s.KillMaster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if old != s.Master.Addr() {
		t.Fatalf("killed %s, want %s", old, s.Master.Addr())
	}
	newAddr, err := s.WaitNewMaster(ctx, old)
	if err != nil {
		t.Fatalf("%v\nsentinel log: %s", err, tail(s.LogFile()))
	}
	if newAddr != s.Replica.Addr() {
		t.Fatalf("new master %s, want %s", newAddr, s.Replica.Addr())
	}
	s.Kill()
	s.Kill() // safe twice
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// TestSentinelFailoverKeepsLastWrite: a write the replica has not received
// yet when the failover is forced (here its link was just cut, as a loaded
// machine delays it) is still on the promoted replica, because Failover
// waits for replication first (the flake "GET on new master: "", redis:
// nil" under load).
func TestSentinelFailoverKeepsLastWrite(t *testing.T) {
	t.Parallel()
	s := StartSentinel(t, &SentinelOptions{MasterName: "lag-master"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mc, rc := s.Master.Client(t), s.Replica.Client(t)
	// Hold the replication link down for a second: a wrong masterauth on
	// the replica makes its reconnections fail, then the link is cut.
	if err := rc.ConfigSet(ctx, "masterauth", "wrong").Err(); err != nil {
		t.Fatal(err)
	}
	if err := mc.Do(ctx, "CLIENT", "KILL", "TYPE", "replica").Err(); err != nil {
		t.Fatal(err)
	}
	key := KeyPrefix(t) + ":last"
	if err := mc.Set(ctx, key, "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	restored := make(chan error, 1)
	go func() {
		time.Sleep(time.Second)
		restored <- rc.ConfigSet(ctx, "masterauth", "").Err()
	}()
	defer func() {
		if err := <-restored; err != nil {
			t.Error(err)
		}
	}()
	newAddr, err := s.Failover(ctx)
	if err != nil {
		t.Fatalf("%v\nsentinel log: %s", err, tail(s.LogFile()))
	}
	if newAddr != s.Replica.Addr() {
		t.Fatalf("new master %s, want the replica %s", newAddr, s.Replica.Addr())
	}
	if v, err := s.Replica.Client(t).Get(ctx, key).Result(); err != nil || v != "v1" {
		t.Fatalf("GET on new master: %q, %v", v, err)
	}
}
