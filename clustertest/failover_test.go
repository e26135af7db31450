package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
	"github.com/zyeute/zyeute-redis/redisconn"
)

// failoverResult is what TestClusterFailoverUnderLoad measures.
type failoverResult struct {
	Accepted, Completed, Duplicated, Lost int
	// AddErrors counts failed Add calls (each retried with the same job id
	// until accepted).
	AddErrors int
	// Promotion is SIGKILL → replica serving the slot (cluster healthy).
	Promotion time.Duration
	// FirstAdd is SIGKILL → first accepted add after adds started failing
	// (the producers' outage); FirstCompletion is SIGKILL → first
	// completion of a job that started after the promotion.
	FirstAdd, FirstCompletion time.Duration
}

// TestClusterFailoverUnderLoad adds and processes jobs on a hash-tagged
// queue while the master holding its slot is killed with SIGKILL. The
// replica is promoted; producers (retrying Add with the same job id) and
// workers (two, through the service's shared cluster connection) recover
// on their own; the accepted, completed, duplicated and lost jobs are
// counted. Jobs acknowledged before the promotion may be lost (Redis
// replicates asynchronously); every job accepted after it must complete,
// and the workers must close cleanly (none hangs).
//
// CLUSTER_FAILOVER_LOAD (a duration, default 1.5s) sets how long the load
// runs on each side of the kill; the chaos suite can raise it.
func TestClusterFailoverUnderLoad(t *testing.T) {
	load := failoverLoad(t)
	c := redistest.StartCluster(t, nil)
	logs := &logBuffer{}
	conn := connect(t, c, logs)
	prefix := "{" + redistest.KeyPrefix(t) + "}"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	slot, err := c.KeySlot(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	runFailoverLoad(t, conn, logs, prefix, load, func(ctx context.Context) {
		old, err := c.KillMaster(ctx, slot)
		if err != nil {
			t.Fatal(err)
		}
		nm, err := c.WaitPromotion(ctx, slot, old)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("killed %s; replica %s serves slot %d", old.Addr(), nm.Addr(), slot)
		if failoverWaitReplicas(t) > 0 {
			// Adds need a replica again.
			go func() {
				if err := c.RestartAsReplica(ctx, old); err != nil {
					t.Errorf("restarting %s as a replica: %v", old.Addr(), err)
				}
			}()
		}
	})
}

// failoverLoad reads CLUSTER_FAILOVER_LOAD.
func failoverLoad(t *testing.T) time.Duration {
	load := 1500 * time.Millisecond
	if v := os.Getenv("CLUSTER_FAILOVER_LOAD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("CLUSTER_FAILOVER_LOAD=%q: want a positive duration such as 10s", v)
		}
		load = d
	}
	return load
}

// failoverWaitReplicas reads CLUSTER_FAILOVER_WAIT_REPLICAS: the producer's
// QueueOptions.WaitReplicas (default 0). With 1, an add counts as accepted
// only once a replica has it; after the failover the promoted master has
// no replica until the old one is back, so adds stall until then.
func failoverWaitReplicas(t *testing.T) int {
	v := os.Getenv("CLUSTER_FAILOVER_WAIT_REPLICAS")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("CLUSTER_FAILOVER_WAIT_REPLICAS=%q: want a replica count such as 1", v)
	}
	return n
}

// runFailoverLoad runs a producer and two workers on queue "load" under
// prefix through conn for load, calls kill (which returns once a new
// master serves the queue), keeps the load on until adds succeed again and
// for load more, waits for the workers to drain, closes them and checks and
// logs the counts.
func runFailoverLoad(t *testing.T, conn *redisconn.Conn, logs *logBuffer, prefix string, load time.Duration, kill func(context.Context)) failoverResult {
	t.Helper()
	rdb := conn.Client()
	// What /api/health reports comes from the Conn's state: record its
	// transitions.
	var stateMu sync.Mutex
	var states []string
	stopSub := conn.Subscribe(func(st redisconn.Status) {
		stateMu.Lock()
		states = append(states, fmt.Sprintf("%s %s (%s)", st.Since.Format("15:04:05.000"), st.State, st.Message))
		stateMu.Unlock()
	})
	defer stopSub()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const name = "load"
	q, err := queue.NewQueue(rdb, name, &queue.QueueOptions{Prefix: prefix, WaitReplicas: failoverWaitReplicas(t)})
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu         sync.Mutex
		runs       = map[int]int{} // job number → completed handler runs
		killedAt   time.Time
		promotedAt time.Time
		firstDone  time.Duration
	)
	handler := func(ctx context.Context, j *queue.Job) (any, error) {
		start := time.Now()
		var n int
		if err := json.Unmarshal(j.Data, &n); err != nil {
			return nil, queue.Unrecoverable(err)
		}
		time.Sleep(time.Millisecond)
		mu.Lock()
		runs[n]++
		if !promotedAt.IsZero() && start.After(promotedAt) && firstDone == 0 {
			firstDone = time.Since(killedAt)
		}
		mu.Unlock()
		return nil, nil
	}
	wopts := func() *queue.WorkerOptions {
		return &queue.WorkerOptions{
			Concurrency:     4,
			LockDuration:    2 * time.Second,
			StalledInterval: time.Second,
			MaxStalledCount: queue.IntPtr(5),
			DrainDelay:      200 * time.Millisecond,
		}
	}
	w1 := runWorker(t, rdb, prefix, name, handler, wopts())
	w2 := runWorker(t, rdb, prefix, name, handler, wopts())

	// The producer adds job n with id "n" until accepted: an add whose
	// reply was lost is not duplicated (same id).
	var (
		accepted   sync.Map // n → time accepted
		addErrors  atomic.Int64
		lastAddErr atomic.Int64 // ns after the kill of the last failed add
		firstAdd   atomic.Int64 // ns after the kill
		stopAdding = make(chan struct{})
		produced   = make(chan int)
	)
	go func() {
		defer close(produced)
		n := 0
		for {
			select {
			case <-stopAdding:
				produced <- n
				return
			default:
			}
			actx, acancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := q.Add(actx, "j", n, &queue.AddOptions{JobID: "job-" + strconv.Itoa(n)})
			acancel()
			if err != nil {
				addErrors.Add(1)
				mu.Lock()
				if !killedAt.IsZero() {
					lastAddErr.Store(int64(time.Since(killedAt)))
				}
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
				continue
			}
			now := time.Now()
			accepted.Store(n, now)
			mu.Lock()
			ka := killedAt
			mu.Unlock()
			if !ka.IsZero() && firstAdd.Load() == 0 && lastAddErr.Load() != 0 {
				firstAdd.Store(int64(now.Sub(ka)))
			}
			n++
		}
	}()

	time.Sleep(load)
	mu.Lock()
	killedAt = time.Now()
	mu.Unlock()
	kill(ctx)
	mu.Lock()
	promotedAt = time.Now()
	mu.Unlock()
	t.Logf("new master serves the queue %s after SIGKILL", promotedAt.Sub(killedAt).Round(time.Millisecond))

	// Load continues until adds succeed again, then for `load` more.
	waitFor(t, 30*time.Second, "an add accepted after the kill", func() bool { return firstAdd.Load() != 0 })
	time.Sleep(load)
	close(stopAdding)
	total := <-produced

	drainFrom := time.Now()
	// Every job accepted after the promotion must complete; give the
	// stalled checker time to recover jobs that were active on the dead
	// master.
	pendingJobs := func() (all, afterPromotion []int) {
		mu.Lock()
		defer mu.Unlock()
		accepted.Range(func(k, v any) bool {
			if runs[k.(int)] == 0 {
				all = append(all, k.(int))
				if v.(time.Time).After(promotedAt) {
					afterPromotion = append(afterPromotion, k.(int))
				}
			}
			return true
		})
		return all, afterPromotion
	}
	deadline := time.Now().Add(30 * time.Second)
	idleChecks := 0
	for time.Now().Before(deadline) {
		if all, _ := pendingJobs(); len(all) == 0 {
			break
		}
		// Jobs lost with the dead master never complete: stop once the
		// queue has been idle for a while.
		counts, cerr := q.Counts(ctx)
		if cerr == nil && counts.Waiting == 0 && counts.Active == 0 && counts.Delayed == 0 && counts.Prioritized == 0 {
			idleChecks++
		} else {
			idleChecks = 0
		}
		if idleChecks >= 10 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("drained (or gave up) in %s", time.Since(drainFrom).Round(time.Millisecond))
	// No worker hangs: both close within their timeout.
	for i, w := range []*queue.Worker{w1, w2} {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.Close(cctx)
		ccancel()
		if err != nil {
			t.Fatalf("worker %d Close: %v", i+1, err)
		}
	}

	_, lostAfterPromotion := pendingJobs()
	var res failoverResult
	res.Promotion = promotedAt.Sub(killedAt)
	res.FirstAdd = time.Duration(firstAdd.Load())
	res.AddErrors = int(addErrors.Load())
	mu.Lock()
	res.FirstCompletion = firstDone
	accepted.Range(func(k, _ any) bool {
		res.Accepted++
		switch r := runs[k.(int)]; {
		case r == 0:
			res.Lost++
		case r > 1:
			res.Duplicated++
		}
		if runs[k.(int)] > 0 {
			res.Completed++
		}
		return true
	})
	mu.Unlock()
	t.Logf("failover under load: %d jobs produced, accepted %d, completed %d, duplicated %d, lost %d; %d failed adds (retried); promotion %s, first add %s, first completion %s after SIGKILL",
		total, res.Accepted, res.Completed, res.Duplicated, res.Lost, res.AddErrors,
		res.Promotion.Round(time.Millisecond), res.FirstAdd.Round(time.Millisecond), res.FirstCompletion.Round(time.Millisecond))
	stateMu.Lock()
	t.Logf("SIGKILL at %s; connection state changes: %v", killedAt.Format("15:04:05.000"), states)
	stateMu.Unlock()
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "[Redis]") && !strings.Contains(line, "level=DEBUG") {
			t.Log(line)
		}
	}
	if len(lostAfterPromotion) > 0 {
		t.Fatalf("%d jobs accepted after the promotion never completed (for example job %d)", len(lostAfterPromotion), lostAfterPromotion[0])
	}
	if res.FirstCompletion == 0 {
		t.Fatal("no job started after the kill completed")
	}
	if res.Accepted == 0 || res.Completed == 0 {
		t.Fatal("no load")
	}
	return res
}

// TestSentinelFailoverUnderLoad is the same load through Sentinel: the
// master is killed with SIGKILL and the Sentinel (down-after 500ms)
// promotes the replica.
func TestSentinelFailoverUnderLoad(t *testing.T) {
	load := failoverLoad(t)
	s := redistest.StartSentinel(t, nil)
	logs := &logBuffer{}
	conn := connectEnv(t, map[string]string{
		"REDIS_SENTINEL_ADDRS":  s.Addr(),
		"REDIS_SENTINEL_MASTER": s.MasterName,
	}, logs)
	runFailoverLoad(t, conn, logs, redistest.KeyPrefix(t), load, func(ctx context.Context) {
		old, err := s.KillMaster(ctx)
		if err != nil {
			t.Fatal(err)
		}
		nm, err := s.WaitNewMaster(ctx, old)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("killed %s; the Sentinel names %s", old, nm)
		if failoverWaitReplicas(t) > 0 {
			for _, srv := range []*redistest.Server{s.Master, s.Replica} {
				if srv.Addr() == old {
					go srv.Restart() // the Sentinel makes it a replica of the new master
				}
			}
		}
	})
}
