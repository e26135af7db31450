package privacy

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/internal/store"
	"github.com/zyeute/zyeute-redis/internal/store/storetest"
	"github.com/zyeute/zyeute-redis/queue"
	"github.com/zyeute/zyeute-redis/session"
)

// A user seeded across the database, Redis sessions and jobs of several
// queues in several states: the access export lists the jobs; the
// deletion (run twice) leaves nothing in Redis or the database naming the
// user, other users' jobs and the running request's own job kept.
func TestPrivacyJobsAccessThenDeletion(t *testing.T) {
	r := redistest.Start(t, nil)
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		c := r.Client(t)
		base := redistest.KeyPrefix(t) + strings.ReplaceAll(t.Name(), "/", "_")
		prefix := base + ":bull"
		sprefix := base + ":session:"
		seed(t, st)
		ss, err := session.NewStore(c, &session.Options{KeyPrefix: sprefix})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := ss.New()
		s.Values["user_id"] = userID
		if err := ss.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		open := func(name string) *queue.Queue {
			q, err := queue.NewQueue(c, name, &queue.QueueOptions{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			return q
		}
		add := func(q *queue.Queue, id string, data any, o *queue.AddOptions) {
			t.Helper()
			if o == nil {
				o = &queue.AddOptions{}
			}
			o.JobID = id
			if _, err := q.Add(ctx, "j", data, o); err != nil {
				t.Fatal(err)
			}
		}
		// Retained completed and failed jobs, through a real worker.
		mem := open(jobs.MemoryMining)
		add(mem, "m-ok", map[string]any{"user_id": userID}, nil)
		add(mem, "m-fail", map[string]any{"user_id": userID}, &queue.AddOptions{Attempts: 1})
		add(mem, "m-bob", map[string]any{"user_id": "user-bob"}, nil)
		w, err := queue.NewWorker(c, jobs.MemoryMining, func(ctx context.Context, j *queue.Job) (any, error) {
			if j.ID == "m-fail" {
				return nil, errors.New("no videos")
			}
			var p map[string]string
			_ = j.Unmarshal(&p)
			return map[string]any{"memories": 1, "user_id": p["user_id"]}, nil
		}, &queue.WorkerOptions{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(ctx); err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			n, err := mem.GetJobCounts(ctx, queue.StateCompleted, queue.StateFailed)
			if err != nil {
				t.Fatal(err)
			}
			if n[queue.StateCompleted] == 2 && n[queue.StateFailed] == 1 {
				break
			}
			if i > 500 {
				t.Fatalf("worker did not finish: %v", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_ = w.Close(cctx)
		cancel()
		// Queued jobs: waiting (analytics event batch), delayed, prioritized.
		an := open(jobs.Analytics)
		add(an, "a-1", map[string]any{"events": []any{map[string]any{"type": "view", "video_id": "vid-b1", "user_id": userID}}}, nil)
		add(an, "a-bob", map[string]any{"events": []any{map[string]any{"type": "view", "video_id": "vid-a1", "user_id": "user-bob"}}}, nil)
		add(open(jobs.VideoEnhancement), "v-1", map[string]any{"video_id": "vid-a1", "user_id": userID}, &queue.AddOptions{Delay: time.Hour})
		add(open(jobs.BlockchainSync), "b-1", map[string]any{"userId": userID, "wallet": "0xabc"}, &queue.AddOptions{Priority: 5})
		// An active job, held by a worker until release is closed.
		bs := open(jobs.BlockchainSync)
		release, started := make(chan struct{}), make(chan struct{})
		add(bs, "b-act", map[string]any{"user_id": userID, "wallet": "0xdef"}, nil)
		bw, err := queue.NewWorker(c, jobs.BlockchainSync, func(ctx context.Context, j *queue.Job) (any, error) {
			close(started)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return map[string]any{"synced": true}, nil
		}, &queue.WorkerOptions{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		if err := bw.Start(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("b-act did not start")
		}
		var releaseOnce bool
		defer func() {
			if !releaseOnce {
				close(release)
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_ = bw.Close(cctx)
			cancel()
		}()
		// The deletion request's own job, waiting as if being run.
		pa := open(jobs.PrivacyAudit)
		add(pa, "self", map[string]any{"request_id": "req-del", "user_id": userID, "kind": "deletion"}, nil)

		a := &Auditor{Store: st, ExportDir: filepath.Join(t.TempDir(), "x"), Now: clock,
			Sessions: &RedisSessions{Client: c, KeyPrefix: sprefix},
			Jobs:     &RedisJobs{Client: c, Prefix: prefix, PageSize: 2}}
		reg, _ := jobs.NewRegistry(&jobs.RegistryConfig{Now: clock, Handlers: jobs.Handlers{Privacy: a}})
		spec, _ := reg.Spec(jobs.PrivacyAudit)
		run := func(body string) *jobs.PrivacyAuditReport {
			t.Helper()
			res, err := spec.Run(ctx, json.RawMessage(body))
			if err != nil {
				t.Fatal(err)
			}
			return res.(*jobs.PrivacyAuditReport)
		}

		rep := run(`{"request_id":"req-acc","user_id":"` + userID + `","kind":"access"}`)
		raw, _ := os.ReadFile(rep.Export.Path)
		var exp Export
		if err := json.Unmarshal(raw, &exp); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, j := range exp.Jobs {
			got[j.Queue+"/"+j.ID] = j.State
		}
		want := map[string]string{"memory-mining/m-ok": "completed", "memory-mining/m-fail": "failed", "analytics/a-1": "waiting",
			"video-enhancement/v-1": "delayed", "blockchain-sync/b-1": "prioritized", "privacy-audit/self": "waiting",
			"blockchain-sync/b-act": "active"}
		if len(got) != len(want) || rep.Export.Rows["jobs"] != len(want) {
			t.Fatalf("jobs in export %v (rows %d), want %v", got, rep.Export.Rows["jobs"], want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("export job %s: state %q, want %q", k, got[k], v)
			}
		}
		for _, j := range exp.Jobs {
			if j.ID == "m-ok" && !strings.Contains(string(j.ReturnValue), userID) {
				t.Errorf("m-ok return value not exported: %s", j.ReturnValue)
			}
		}

		del := `{"request_id":"req-del","user_id":"` + userID + `","kind":"deletion"}`
		first := run(del)
		if first.Erased["jobs"] != 5 || first.Erased["job_events"] == 0 || first.Erased["jobs_active_left"] != 1 {
			t.Fatalf("erased %v", first.Erased)
		}
		// The active job is left to its worker, and counted.
		if st, err := bs.GetState(ctx, "b-act"); err != nil || st != queue.StateActive {
			t.Fatalf("b-act: %s %v", st, err)
		}
		second := run(del)
		if second.Erased["jobs"] != 0 || second.Erased["job_events"] != 0 || second.Erased["jobs_active_left"] != 1 {
			t.Fatalf("second deletion erased %v", second.Erased)
		}
		// Once it finished, running the request again erases it.
		close(release)
		releaseOnce = true
		for i := 0; ; i++ {
			if st, _ := bs.GetState(ctx, "b-act"); st == queue.StateCompleted {
				break
			}
			if i > 500 {
				t.Fatal("b-act did not complete")
			}
			time.Sleep(20 * time.Millisecond)
		}
		third := run(del)
		if third.Erased["jobs"] != 1 || third.Erased["jobs_active_left"] != 0 {
			t.Fatalf("third deletion erased %v", third.Erased)
		}
		if again := run(del); again.Erased["jobs"] != 0 || again.Erased["job_events"] != 0 {
			t.Fatalf("fourth deletion erased %v", again.Erased)
		}
		// Every key under the prefixes, every value: only the running
		// request's own job may name the user.
		selfKey := prefix + ":" + jobs.PrivacyAudit + ":self"
		var keys []string
		iter := c.Scan(ctx, 0, base+"*", 200).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k == selfKey {
				continue
			}
			v := dump(ctx, t, c, k)
			if strings.Contains(v, userID) || strings.Contains(v, "alice") {
				t.Errorf("Redis key %s still names the user: %.300s", k, v)
			}
		}
		for _, k := range []string{prefix + ":memory-mining:m-bob", prefix + ":analytics:a-bob", selfKey} {
			if n, _ := c.Exists(ctx, k).Result(); n != 1 {
				t.Errorf("%s was removed", k)
			}
		}
	})
}

// dump renders a key's value whatever its type.
func dump(ctx context.Context, t *testing.T, c *redis.Client, k string) string {
	t.Helper()
	typ, err := c.Type(ctx, k).Result()
	if err != nil {
		t.Fatal(err)
	}
	var v any
	switch typ {
	case "string":
		v, err = c.Get(ctx, k).Result()
	case "hash":
		v, err = c.HGetAll(ctx, k).Result()
	case "list":
		v, err = c.LRange(ctx, k, 0, -1).Result()
	case "set":
		v, err = c.SMembers(ctx, k).Result()
	case "zset":
		v, err = c.ZRangeWithScores(ctx, k, 0, -1).Result()
	case "stream":
		v, err = c.XRange(ctx, k, "-", "+").Result()
	case "none":
		return ""
	default:
		t.Fatalf("key %s of type %s", k, typ)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
