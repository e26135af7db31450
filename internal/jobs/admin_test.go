package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zyeute/zyeute-redis/queue"
)

func ids(js []*queue.Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.ID
	}
	return out
}

func eq(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAdminListPromoteRetryRemove(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c := b.conn.Client()
	a, err := NewAdmin(c, b.prefix)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := queue.NewQueue(c, Analytics, &queue.QueueOptions{Prefix: b.prefix})
	data := json.RawMessage(analyticsBatch)
	for _, id := range []string{"a", "b", "c"} {
		if _, err := q.Add(ctx, "batch", data, &queue.AddOptions{JobID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Add(ctx, "later", data, &queue.AddOptions{JobID: "d", Delay: time.Hour, Priority: 2}); err != nil {
		t.Fatal(err)
	}
	got, err := a.List(ctx, Analytics, queue.StateWaiting, 0, 10)
	if err != nil || !eq(ids(got), []string{"a", "b", "c"}) {
		t.Fatalf("waiting = %v, %v (want processing order a, b, c)", ids(got), err)
	}
	if got, _ := a.List(ctx, Analytics, queue.StateWaiting, 1, 1); !eq(ids(got), []string{"b"}) {
		t.Errorf("waiting offset 1 limit 1 = %v", ids(got))
	}
	if got, _ := a.List(ctx, Analytics, queue.StateDelayed, 0, 10); !eq(ids(got), []string{"d"}) {
		t.Errorf("delayed = %v", ids(got))
	}
	if _, err := a.List(ctx, Analytics, queue.StateWaiting, 0, MaxList+1); err == nil {
		t.Error("count over MaxList accepted")
	}

	// Promote: delayed → prioritized (it has a priority), event written.
	if err := a.Promote(ctx, Analytics, "d"); err != nil {
		t.Fatal(err)
	}
	if st, _ := q.GetState(ctx, "d"); st != queue.StatePrioritized {
		t.Errorf("promoted job is %s", st)
	}
	if err := a.Promote(ctx, Analytics, "d"); !errors.Is(err, queue.ErrNotInState) {
		t.Errorf("second promote: %v", err)
	}
	if n, _ := c.ZScore(ctx, b.prefix+":analytics:marker", "0").Result(); n != 0 {
		t.Errorf("marker 0 score = %v", n)
	}

	// Run everything with a worker; "b" has a payload the handler refuses.
	c.HSet(ctx, b.prefix+":analytics:b", "data", `{"events":[]}`)
	pool, _ := NewPool(c, b.reg, &PoolConfig{Queues: []string{Analytics}, Prefix: b.prefix})
	if err := pool.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "all finished", func() bool {
		n, _ := q.Counts(ctx)
		return n.Completed == 3 && n.Failed == 1
	})
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Close(sctx); err != nil {
		t.Fatal(err)
	}
	failed, err := a.List(ctx, Analytics, queue.StateFailed, 0, 10)
	if err != nil || !eq(ids(failed), []string{"b"}) || failed[0].FailedReason == "" {
		t.Fatalf("failed = %v %v", ids(failed), err)
	}
	if err := a.Retry(ctx, Analytics, "b", queue.StateFailed, true); err != nil {
		t.Fatal(err)
	}
	j, _ := q.GetJob(ctx, "b")
	if st, _ := q.GetState(ctx, "b"); st != queue.StateWaiting || j.FailedReason != "" || j.FinishedOn != 0 || j.AttemptsMade != 0 {
		t.Errorf("retried job: state %s, %+v", st, j)
	}
	if err := a.Retry(ctx, Analytics, "b", queue.StateFailed, false); !errors.Is(err, queue.ErrNotInState) {
		t.Errorf("retry of a waiting job: %v", err)
	}
	if err := a.Retry(ctx, Analytics, "zzz", queue.StateFailed, false); !errors.Is(err, queue.ErrJobNotFound) {
		t.Errorf("retry of a missing job: %v", err)
	}
	ev, _ := c.XRevRangeN(ctx, b.prefix+":analytics:events", "+", "-", 1).Result()
	if len(ev) != 1 || ev[0].Values["event"] != "waiting" || ev[0].Values["prev"] != "failed" {
		t.Errorf("last event = %v", ev)
	}

	// Remove: a waiting job goes with its keys; a locked one stays.
	if err := a.Remove(ctx, Analytics, "b"); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Exists(ctx, b.prefix+":analytics:b").Result(); n != 0 {
		t.Error("removed job hash still there")
	}
	if st, _ := q.GetState(ctx, "b"); st != queue.StateUnknown {
		t.Errorf("removed job state %s", st)
	}
	ev, _ = c.XRevRangeN(ctx, b.prefix+":analytics:events", "+", "-", 1).Result()
	if len(ev) != 1 || ev[0].Values["event"] != "removed" || ev[0].Values["jobId"] != "b" || ev[0].Values["prev"] != "wait" {
		t.Errorf("removed event = %v (want prev=wait, the state name, as Node writes)", ev)
	}
	if err := a.Remove(ctx, Analytics, "b"); !errors.Is(err, queue.ErrJobNotFound) {
		t.Errorf("second remove: %v", err)
	}
	// Deduplication keys owned by the removed job go, dn: included.
	c.HSet(ctx, b.prefix+":analytics:dd", "name", "x", "data", "{}", "opts", "{}", "deid", "k")
	c.LPush(ctx, b.prefix+":analytics:wait", "dd")
	c.Set(ctx, b.prefix+":analytics:de:k", "dd", 0)
	c.HSet(ctx, b.prefix+":analytics:dn:k", "name", "next", "jid", "dd2")
	if err := a.Remove(ctx, Analytics, "dd"); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Exists(ctx, b.prefix+":analytics:de:k", b.prefix+":analytics:dn:k").Result(); n != 0 {
		t.Errorf("%d deduplication keys left after removing their owner", n)
	}
	// Only the scheduler's next iteration is refused.
	c.ZAdd(ctx, b.prefix+":analytics:repeat", redis.Z{Score: 5000, Member: "s"})
	for _, id := range []string{"repeat:s:4000", "repeat:s:5000"} {
		c.HSet(ctx, b.prefix+":analytics:"+id, "name", "tick", "data", "{}", "opts", "{}", "rjk", "s")
	}
	c.ZAdd(ctx, b.prefix+":analytics:completed", redis.Z{Score: 1, Member: "repeat:s:4000"})
	c.ZAdd(ctx, b.prefix+":analytics:delayed", redis.Z{Score: 5000 * 4096, Member: "repeat:s:5000"})
	if err := a.Remove(ctx, Analytics, "repeat:s:5000"); !errors.Is(err, ErrSchedulerIteration) {
		t.Errorf("remove of the next iteration: %v", err)
	}
	if err := a.Remove(ctx, Analytics, "repeat:s:4000"); err != nil {
		t.Errorf("remove of an older iteration: %v", err)
	}
	c.HSet(ctx, b.prefix+":analytics:busy", "name", "x", "data", "{}", "opts", "{}")
	c.LPush(ctx, b.prefix+":analytics:active", "busy")
	c.Set(ctx, b.prefix+":analytics:busy:lock", "tok", time.Minute)
	if err := a.Remove(ctx, Analytics, "busy"); !errors.Is(err, ErrJobLocked) {
		t.Errorf("remove locked: %v", err)
	}
	c.HSet(ctx, b.prefix+":analytics:child", "name", "x", "data", "{}", "opts", "{}", "parentKey", "bull:p:1")
	c.LPush(ctx, b.prefix+":analytics:wait", "child")
	if err := a.Remove(ctx, Analytics, "child"); !errors.Is(err, ErrFlowJob) {
		t.Errorf("remove flow child: %v", err)
	}
	if err := a.Remove(ctx, "bad:name", "1"); err == nil {
		t.Error("queue name with ':' accepted")
	}
	if _, err := ParseState("done"); err == nil {
		t.Error("ParseState(done) accepted")
	}
	if st, _ := ParseState("wait"); st != queue.StateWaiting {
		t.Errorf("ParseState(wait) = %s", st)
	}
}
