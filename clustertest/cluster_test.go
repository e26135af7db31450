package clustertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/moderation"
	"github.com/zyeute/zyeute-redis/queue"
	"github.com/zyeute/zyeute-redis/session"
)

// TestOnCluster shares one 3+3 cluster between the subtests (none of them
// kills a node): queues with hash tags, queues spread over masters, the
// CROSSSLOT failure without a tag, the moderation cache and sessions.
func TestOnCluster(t *testing.T) {
	c := redistest.StartCluster(t, nil)
	conn := connect(t, c, nil)
	rdb := conn.Client()

	t.Run("QueueHashTagPrefix", func(t *testing.T) { testQueueHashTag(t, c, rdb) })
	t.Run("QueuesSpreadOverMasters", func(t *testing.T) { testQueuesSpread(t, c, rdb) })
	t.Run("NoHashTagCrossSlot", func(t *testing.T) { testNoHashTag(t, rdb) })
	t.Run("ModerationCache", func(t *testing.T) { testModeration(t, rdb) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, rdb) })
}

// runWorker starts a worker on q's name and prefix and closes it at cleanup.
func runWorker(t *testing.T, rdb redis.UniversalClient, prefix, name string, h queue.Handler, opts *queue.WorkerOptions) *queue.Worker {
	t.Helper()
	if opts == nil {
		opts = &queue.WorkerOptions{}
	}
	opts.Prefix = prefix
	if opts.DrainDelay == 0 {
		opts.DrainDelay = 200 * time.Millisecond
	}
	w, err := queue.NewWorker(rdb, name, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Close(ctx)
	})
	return w
}

// testQueueHashTag: QUEUE_PREFIX "{…}" keeps every key of the queue in one
// slot; plain, delayed and retried jobs all complete.
func testQueueHashTag(t *testing.T, c *redistest.Cluster, rdb redis.UniversalClient) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prefix := "{" + redistest.KeyPrefix(t) + "}"
	const name = "video-enhancement"
	q, err := queue.NewQueue(rdb, name, &queue.QueueOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	var done sync.Map
	var runs atomic.Int64
	runWorker(t, rdb, prefix, name, func(ctx context.Context, j *queue.Job) (any, error) {
		runs.Add(1)
		if j.Name == "flaky" && j.AttemptsMade == 0 {
			return nil, errors.New("first attempt fails")
		}
		done.Store(j.ID, true)
		return map[string]string{"ok": j.Name}, nil
	}, &queue.WorkerOptions{Concurrency: 4})

	var ids []string
	for i := 0; i < 20; i++ {
		j, err := q.Add(ctx, "plain", map[string]int{"i": i}, nil)
		if err != nil {
			t.Fatalf("Add %d: %v", i, err)
		}
		ids = append(ids, j.ID)
	}
	j, err := q.Add(ctx, "delayed", nil, &queue.AddOptions{Delay: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("Add delayed: %v", err)
	}
	ids = append(ids, j.ID)
	j, err = q.Add(ctx, "flaky", nil, &queue.AddOptions{Attempts: 3, Backoff: &queue.Backoff{Type: "fixed", Delay: 100 * time.Millisecond}})
	if err != nil {
		t.Fatalf("Add flaky: %v", err)
	}
	ids = append(ids, j.ID)
	bulk := []queue.BulkJob{{Name: "bulk", Data: 1}, {Name: "bulk", Data: 2}}
	bj, err := q.AddBulk(ctx, bulk)
	if err != nil {
		t.Fatalf("AddBulk: %v", err)
	}
	for _, j := range bj {
		ids = append(ids, j.ID)
	}

	waitFor(t, 20*time.Second, "every job completed", func() bool {
		for _, id := range ids {
			if _, ok := done.Load(id); !ok {
				return false
			}
		}
		return true
	})
	waitFor(t, 5*time.Second, "counts", func() bool {
		n, err := q.Counts(ctx)
		return err == nil && n.Completed == int64(len(ids)) && n.Waiting == 0 && n.Active == 0 && n.Delayed == 0
	})
	if st, err := q.GetState(ctx, ids[len(ids)-3]); err != nil || st != queue.StateCompleted {
		t.Fatalf("flaky job state %v, %v", st, err)
	}
	if got := runs.Load(); got != int64(len(ids))+1 {
		t.Fatalf("%d handler runs, want %d (one retry)", got, len(ids)+1)
	}

	// Every key of the queue is on one master, in one slot.
	byMaster := keysByMaster(ctx, t, rdb, prefix+":*")
	if len(byMaster) != 1 {
		t.Fatalf("queue keys on %d masters, want 1: %v", len(byMaster), byMaster)
	}
	slots := map[int]bool{}
	n := 0
	for _, keys := range byMaster {
		for _, k := range keys {
			s, err := c.KeySlot(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			slots[s] = true
			n++
		}
	}
	if len(slots) != 1 || n < len(ids) {
		t.Fatalf("%d keys in %d slots, want ≥%d keys in 1 slot", n, len(slots), len(ids))
	}
}

// testQueuesSpread: with a per-queue tag in the name (prefix "bull",
// queue "{media-0}"), queues land on different masters and each works.
func testQueuesSpread(t *testing.T, c *redistest.Cluster, rdb redis.UniversalClient) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prefix := redistest.KeyPrefix(t)
	tags := tagsOnDistinctMasters(ctx, t, c, prefix, 3)
	var completed atomic.Int64
	for _, tag := range tags {
		name := "{" + tag + "}"
		runWorker(t, rdb, prefix, name, func(ctx context.Context, j *queue.Job) (any, error) {
			completed.Add(1)
			return nil, nil
		}, nil)
		q, err := queue.NewQueue(rdb, name, &queue.QueueOptions{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			if _, err := q.Add(ctx, "j", i, nil); err != nil {
				t.Fatalf("Add on %s: %v", name, err)
			}
		}
	}
	waitFor(t, 20*time.Second, "15 jobs over 3 queues completed", func() bool { return completed.Load() == 15 })
	byMaster := keysByMaster(ctx, t, rdb, prefix+":*")
	if len(byMaster) != 3 {
		t.Fatalf("3 queues' keys on %d masters, want 3", len(byMaster))
	}
	for addr, keys := range byMaster {
		tagsHere := map[string]bool{}
		for _, k := range keys {
			tagsHere[k[strings.Index(k, "{")+1:strings.Index(k, "}")]] = true
		}
		if len(tagsHere) != 1 {
			t.Fatalf("master %s holds keys of %d queues, want 1: %v", addr, len(tagsHere), tagsHere)
		}
	}
}

// testNoHashTag shows what doctor warns about: without a tag a queue's
// keys hash to different slots, so a queue or worker on a cluster client
// is refused when built, with the fix in the message, and nothing is
// written; a script run anyway fails on the first key of another slot.
func testNoHashTag(t *testing.T, rdb redis.UniversalClient) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	prefix := redistest.KeyPrefix(t)
	_, err := queue.NewQueue(rdb, "plain", &queue.QueueOptions{Prefix: prefix})
	if !errors.Is(err, queue.ErrNoHashTag) || !strings.Contains(err.Error(), `"{`+prefix+`}"`) {
		t.Fatalf("NewQueue without a hash tag on a cluster: %v, want ErrNoHashTag naming the fix", err)
	}
	_, err = queue.NewWorker(rdb, "plain", func(context.Context, *queue.Job) (any, error) { return nil, nil }, &queue.WorkerOptions{Prefix: prefix})
	if !errors.Is(err, queue.ErrNoHashTag) {
		t.Fatalf("NewWorker without a hash tag on a cluster: %v, want ErrNoHashTag", err)
	}
	// The same queue name with a tag in the prefix is accepted.
	q, err := queue.NewQueue(rdb, "plain", &queue.QueueOptions{Prefix: "{" + prefix + "}"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Add(ctx, "j", nil, nil); err != nil {
		t.Fatalf("Add with a tagged prefix: %v", err)
	}
}

// testModeration: verdicts cached under keys spread over the masters, hits
// on the second pass, fleet stats readable (its pipeline mixes slots).
func testModeration(t *testing.T, rdb redis.UniversalClient) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rules, err := moderation.NewRulesModerator(nil)
	if err != nil {
		t.Fatal(err)
	}
	prefix := redistest.KeyPrefix(t) + ":"
	cache, err := moderation.NewCache(rdb, rules, &moderation.CacheConfig{KeyPrefix: prefix, StatsFlushInterval: time.Millisecond, RedisTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < n; i++ {
			r, err := cache.Moderate(ctx, moderation.Content{Text: fmt.Sprintf("comment number %d", i)})
			if err != nil {
				t.Fatalf("pass %d: Moderate %d: %v", pass, i, err)
			}
			if r.Cached != (pass == 1) {
				t.Fatalf("pass %d item %d: cached=%v", pass, i, r.Cached)
			}
		}
	}
	if ls := cache.LocalStats(); ls.RedisErrors != 0 {
		t.Fatalf("Redis errors on the cluster: %+v", ls)
	}
	byMaster := keysByMaster(ctx, t, rdb, prefix+"*")
	if len(byMaster) < 2 {
		t.Fatalf("moderation keys on %d master(s), want them spread", len(byMaster))
	}
	// One more lookup flushes the pending counters.
	if _, err := cache.Moderate(ctx, moderation.Content{Text: "comment number 0"}); err != nil {
		t.Fatal(err)
	}
	fs, err := cache.FleetStats(ctx)
	if err != nil {
		t.Fatalf("FleetStats: %v", err)
	}
	if fs.Lookups < 2*n || fs.Hits < n {
		t.Fatalf("fleet stats %+v, want ≥%d lookups and ≥%d hits", fs, 2*n, n)
	}
}

// testSessions: sessions saved, read, deleted in Redis (not the memory
// fallback) with keys spread over the masters.
func testSessions(t *testing.T, rdb redis.UniversalClient) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prefix := redistest.KeyPrefix(t) + ":"
	st, err := session.NewStore(rdb, &session.Options{KeyPrefix: prefix, RedisTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 30; i++ {
		s, err := st.New()
		if err != nil {
			t.Fatal(err)
		}
		s.Values["user"] = fmt.Sprint(i)
		if err := st.Save(ctx, s); err != nil {
			t.Fatalf("Save: %v", err)
		}
		ids = append(ids, s.ID)
	}
	if st.MemoryCount() != 0 {
		t.Fatalf("%d sessions fell back to memory", st.MemoryCount())
	}
	for i, id := range ids {
		s, err := st.Get(ctx, id)
		if err != nil || s.Backend != "redis" || s.Values["user"] != fmt.Sprint(i) {
			t.Fatalf("Get %d: %+v, %v", i, s, err)
		}
	}
	if byMaster := keysByMaster(ctx, t, rdb, prefix+"*"); len(byMaster) < 2 {
		t.Fatalf("session keys on %d master(s), want them spread", len(byMaster))
	}
	for _, id := range ids {
		if err := st.Delete(ctx, id); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := st.Get(ctx, id); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Get after Delete: %v", err)
		}
	}
}
