package clustertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/doctor"
	"github.com/zyeute/zyeute-redis/internal/config"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

// TestDoctorOnCluster runs `zyeute doctor`'s diagnosis against a real 3+3
// cluster: cluster_state ok, and a warning with the fix when QUEUE_PREFIX
// has no (valid) hash tag.
func TestDoctorOnCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, &redistest.ClusterOptions{NoReplicas: true})
	for _, tc := range []struct {
		prefix  string
		warn    bool
		fixWith string
	}{
		{prefix: "bull", warn: true, fixWith: "QUEUE_PREFIX={bull}"},
		{prefix: "{bull}", warn: false},
		{prefix: "zyeute:{jobs}", warn: false},
		// An empty tag does not count: Redis hashes the whole key.
		{prefix: "bull{}", warn: true, fixWith: "QUEUE_PREFIX={bull}"},
		{prefix: "{bull", warn: true, fixWith: "QUEUE_PREFIX={bull}"},
	} {
		// The prefix goes through the configuration loader as the binary
		// does: braces are accepted as they are.
		env := map[string]string{"REDIS_CLUSTER_ADDRS": strings.Join(c.Addrs(), ","), "QUEUE_PREFIX": tc.prefix}
		cfg, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatalf("QUEUE_PREFIX=%s: %v", tc.prefix, err)
		}
		if cfg.QueuePrefix != tc.prefix {
			t.Fatalf("QueuePrefix %q, want %q", cfg.QueuePrefix, tc.prefix)
		}
		rep := doctor.Diagnose(context.Background(), doctor.Target{
			ClusterAddrs: cfg.Redis.Addrs,
			QueuePrefix:  cfg.QueuePrefix,
		}, doctor.Options{})
		ch, ok := rep.Check(doctor.CheckServer)
		if !ok {
			t.Fatal("no server check")
		}
		if f, ok := ch.Finding("cluster_state"); !ok || f.Status != doctor.StatusOK {
			t.Fatalf("prefix %q: cluster_state finding %+v", tc.prefix, f)
		}
		f, warned := ch.Finding("cluster_hash_tag")
		if warned != tc.warn {
			t.Fatalf("prefix %q: cluster_hash_tag warning %v, want %v (%+v)", tc.prefix, warned, tc.warn, ch.Findings)
		}
		if warned && (f.Status != doctor.StatusWarn || !strings.Contains(f.Fix, tc.fixWith) || !strings.Contains(f.Message, "CROSSSLOT")) {
			t.Fatalf("prefix %q: finding %+v, want a warning whose fix says %s", tc.prefix, f, tc.fixWith)
		}
	}
}

// TestDoctorQueuesOnEveryMaster: queues whose keys live on three different
// masters are all listed, whichever node is the seed.
func TestDoctorQueuesOnEveryMaster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, &redistest.ClusterOptions{NoReplicas: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rdb := connect(t, c, nil).Client()
	prefix := redistest.KeyPrefix(t)
	tags := tagsOnDistinctMasters(ctx, t, c, prefix, 3)
	want := map[string]bool{}
	for _, tag := range tags {
		name := "{" + tag + "}"
		q, err := queue.NewQueue(rdb, name, &queue.QueueOptions{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.Add(ctx, "j", nil, nil); err != nil {
			t.Fatal(err)
		}
		want[name] = true
	}
	rep := doctor.Diagnose(ctx, doctor.Target{ClusterAddrs: c.Addrs(), QueuePrefix: prefix}, doctor.Options{})
	ch, ok := rep.Check(doctor.CheckQueues)
	if !ok {
		t.Fatal("no queues check")
	}
	data, ok := ch.Data.(*doctor.QueuesData)
	if !ok {
		t.Fatalf("queues data %T (findings %+v)", ch.Data, ch.Findings)
	}
	got := map[string]bool{}
	for _, q := range data.Queues {
		if q.Wait != 1 {
			t.Fatalf("queue %s: %+v, want 1 waiting", q.Name, q)
		}
		got[q.Name] = true
	}
	if len(got) != len(want) {
		t.Fatalf("doctor lists %v, want %v (findings %+v)", got, want, ch.Findings)
	}
	for name := range want {
		if !got[name] {
			t.Fatalf("doctor lists %v, want %v", got, want)
		}
	}
}
