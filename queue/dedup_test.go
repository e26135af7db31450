package queue

import (
	"context"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// keepLastIfActive (§9.5, §9.9 step 7): the owner finishes on a Go worker
// while an add is stashed in dn:<id> → the stashed job is created with its
// jid, the de key points at it without TTL, events added + waiting come
// before completed, the stash is gone and the counter moved on.
func TestDedupKeepLastIfActiveRequeue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		stashOpts string
		wantState JobState
		wantEv    []string
	}{
		{"ready", `{"attempts":0,"de":{"id":"d","keepLastIfActive":true},"jobId":"next"}`, StateWaiting,
			[]string{"added", "waiting", "completed"}},
		{"delayed", `{"attempts":0,"delay":5000,"de":{"id":"d","keepLastIfActive":true}}`, StateDelayed,
			[]string{"added", "delayed", "completed"}},
		{"prioritized", `{"attempts":0,"priority":3,"de":{"id":"d","keepLastIfActive":true}}`, StatePrioritized,
			[]string{"added", "waiting", "completed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			k := b.q.k
			owner := mustAdd(t, b, "owner", nil)
			b.client.HSet(b.ctx, k.job(owner), "deid", "d")
			b.client.Set(b.ctx, k.key("de:d"), owner, time.Minute) // a TTL the stash persisted in Node; keep one to see it dropped
			const now = int64(1_900_000_000_000)
			w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil },
				&WorkerOptions{Now: fixedClock(now)})
			r, tok := fetch(t, w)
			if r.id != owner {
				t.Fatalf("fetched %q", r.id)
			}
			jid := "jid-" + tc.name
			b.client.HSet(b.ctx, k.key("dn:d"), "name", "stashed", "data", `{"v":2}`, "opts", tc.stashOpts, "jid", jid)
			idBefore, _ := b.client.Get(b.ctx, k.id()).Int64()
			evBefore := b.client.XLen(b.ctx, k.events()).Val()
			job, _ := jobFromHash(r.id, fieldsToMap(r.fields))
			w.closing.Store(true) // no fetch-next: the new job must stay where it was put
			if _, _, ok := w.complete(job, tok, "null"); !ok {
				t.Fatal("complete failed")
			}
			h := b.client.HGetAll(b.ctx, k.job(jid)).Val()
			for f, v := range map[string]string{"name": "stashed", "data": `{"v":2}`, "opts": tc.stashOpts,
				"timestamp": strconv.FormatInt(now, 10), "deid": "d"} {
				if h[f] != v {
					t.Errorf("field %s = %q, want %q", f, h[f], v)
				}
			}
			if got := b.client.Get(b.ctx, k.key("de:d")).Val(); got != jid {
				t.Fatalf("de key = %q", got)
			}
			if ttl := b.client.PTTL(b.ctx, k.key("de:d")).Val(); ttl != -1 {
				t.Fatalf("de key TTL %v", ttl)
			}
			if b.client.Exists(b.ctx, k.key("dn:d")).Val() != 0 {
				t.Fatal("stash not deleted")
			}
			if id, _ := b.client.Get(b.ctx, k.id()).Int64(); id != idBefore+1 {
				t.Fatalf("id counter %d → %d", idBefore, id)
			}
			st, err := b.q.GetState(b.ctx, jid)
			if err != nil || st != tc.wantState {
				t.Fatalf("state %q %v", st, err)
			}
			var names []string
			for _, e := range b.client.XRange(b.ctx, k.events(), "-", "+").Val()[evBefore:] {
				if e.Values["jobId"] == jid || e.Values["event"] == "completed" {
					names = append(names, e.Values["event"].(string))
				}
			}
			if !reflect.DeepEqual(names, tc.wantEv) {
				t.Fatalf("events %v, want %v", names, tc.wantEv)
			}
			if tc.wantState == StateDelayed {
				sc := b.client.ZScore(b.ctx, k.delayed(), jid).Val()
				if int64(sc)/4096 != now+5000 {
					t.Fatalf("delayed due %v", int64(sc)/4096)
				}
			}
		})
	}
}

// Without a stash, finishing an owner only releases its de key.
func TestDedupReleaseWithoutStash(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.q.k
	owner := mustAdd(t, b, "owner", nil)
	b.client.HSet(b.ctx, k.job(owner), "deid", "d")
	b.client.Set(b.ctx, k.key("de:d"), owner, 0)
	w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil }, nil)
	r, tok := fetch(t, w)
	idBefore, _ := b.client.Get(b.ctx, k.id()).Int64()
	job, _ := jobFromHash(r.id, fieldsToMap(r.fields))
	w.closing.Store(true)
	w.complete(job, tok, "null")
	if b.client.Exists(b.ctx, k.key("de:d")).Val() != 0 {
		t.Fatal("de key kept")
	}
	if id, _ := b.client.Get(b.ctx, k.id()).Int64(); id != idBefore {
		t.Fatal("counter moved without a stash")
	}
}
