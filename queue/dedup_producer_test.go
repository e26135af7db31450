package queue

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

// Producer-side deduplication (protocol §9.5, checklist 13–17): seed a
// state, run Add, compare the keys and events written.

func dedupEvents(t *testing.T, b *bundle) []event {
	t.Helper()
	var out []event
	for _, e := range b.events(t) {
		if e["event"] == "debounced" {
			t.Fatalf("debounced event written: %v", e)
		}
		if e["event"] == "deduplicated" || e["event"] == "removed" {
			out = append(out, e)
		}
	}
	return out
}

func dedupEv(owner, did, would string) event {
	return event{"event": "deduplicated", "jobId": owner, "deduplicationId": did, "deduplicatedJobId": would}
}

// 13: simple mode — SET NX, the owner id returned twice, one deduplicated
// event, the counter still moves, the key goes when a worker completes the
// owner.
func TestDedupProducerSimple(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.q.k
	de := &AddOptions{Deduplication: &Deduplication{ID: "d"}}
	first := mustAdd(t, b, "a", de)
	second, err := b.q.Add(b.ctx, "b", map[string]int{"v": 2}, de)
	if err != nil {
		t.Fatal(err)
	}
	if second.ID != first {
		t.Fatalf("second add returned %q, want owner %q", second.ID, first)
	}
	bulk, err := b.q.AddBulk(b.ctx, []BulkJob{{Name: "c", Opts: de}, {Name: "plain"}})
	if err != nil {
		t.Fatal(err)
	}
	if bulk[0].ID != first || bulk[1].ID != "4" {
		t.Fatalf("bulk ids %q %q", bulk[0].ID, bulk[1].ID)
	}
	if got := b.client.Get(b.ctx, k.key("de:d")).Val(); got != first {
		t.Fatalf("de key = %q", got)
	}
	if ttl := b.client.PTTL(b.ctx, k.key("de:d")).Val(); ttl != -1 {
		t.Fatalf("de key TTL %v", ttl)
	}
	if n, _ := b.client.Get(b.ctx, k.id()).Int(); n != 4 {
		t.Fatalf("id counter %d, want 4", n)
	}
	h := b.hash(t, first)
	if h["deid"] != "d" || h["opts"] != `{"attempts":0,"de":{"id":"d"}}` || h["name"] != "a" {
		t.Fatalf("owner hash %v", h)
	}
	if b.client.Exists(b.ctx, k.job("2"), k.job("3")).Val() != 0 {
		t.Fatal("a deduplicated add was stored")
	}
	if got, want := dedupEvents(t, b), []event{dedupEv(first, "d", "2"), dedupEv(first, "d", "3")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if n := b.client.LLen(b.ctx, k.wait()).Val(); n != 2 {
		t.Fatalf("wait holds %d jobs", n)
	}
	w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil }, nil)
	r, tok := fetch(t, w)
	job, _ := jobFromHash(r.id, fieldsToMap(r.fields))
	w.closing.Store(true)
	if _, _, ok := w.complete(job, tok, "null"); !ok || r.id != first {
		t.Fatalf("complete %q failed", r.id)
	}
	if b.client.Exists(b.ctx, k.key("de:d")).Val() != 0 {
		t.Fatal("de key kept after the owner completed")
	}
	if j := mustAdd(t, b, "again", de); j != "5" {
		t.Fatalf("add after release returned %q", j)
	}
}

// 14: throttle — PX ttl, the key survives completion, an add after expiry
// creates a new job; extend re-arms the TTL on a conflict.
func TestDedupProducerTTL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.q.k
	de := &AddOptions{Deduplication: &Deduplication{ID: "d", TTL: 2000}}
	first := mustAdd(t, b, "a", de)
	if ttl := b.client.PTTL(b.ctx, k.key("de:d")).Val(); ttl <= 0 || ttl > 2000*time.Millisecond {
		t.Fatalf("PTTL %v", ttl)
	}
	if id := mustAdd(t, b, "b", de); id != first {
		t.Fatalf("got %q", id)
	}
	w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil }, nil)
	r, tok := fetch(t, w)
	job, _ := jobFromHash(r.id, fieldsToMap(r.fields))
	w.closing.Store(true)
	w.complete(job, tok, "null")
	if got := b.client.Get(b.ctx, k.key("de:d")).Val(); got != first {
		t.Fatalf("de key after completion = %q", got)
	}
	// extend: the conflict re-arms the full TTL, still pointing at the owner
	b.client.PExpire(b.ctx, k.key("de:d"), 300*time.Millisecond)
	ext := &AddOptions{Deduplication: &Deduplication{ID: "d", TTL: 2000, Extend: true}}
	if id := mustAdd(t, b, "c", ext); id != first {
		t.Fatalf("extend add got %q", id)
	}
	if ttl := b.client.PTTL(b.ctx, k.key("de:d")).Val(); ttl <= 1000*time.Millisecond {
		t.Fatalf("extend left PTTL %v", ttl)
	}
	// expiry: a further add creates a new job
	b.client.PExpire(b.ctx, k.key("de:d"), time.Millisecond)
	waitFor(t, 5*time.Second, "de key expiry", func() bool { return b.client.Exists(b.ctx, k.key("de:d")).Val() == 0 })
	next := mustAdd(t, b, "d", de)
	if next == first || b.client.Exists(b.ctx, k.job(next)).Val() != 1 {
		t.Fatalf("add after expiry returned %q", next)
	}
	if got := b.client.Get(b.ctx, k.key("de:d")).Val(); got != next {
		t.Fatalf("de key = %q", got)
	}
}

// 15: replace a delayed owner; an owner no longer delayed is kept and the
// new add dropped without an event.
func TestDedupProducerReplace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.q.k
	rep := &AddOptions{Delay: 5 * time.Second, Deduplication: &Deduplication{ID: "d", TTL: 60000, Replace: true}}
	old := mustAdd(t, b, "old", rep)
	b.client.PExpire(b.ctx, k.key("de:d"), 30*time.Second) // KEEPTTL keeps this one
	b.client.HSet(b.ctx, k.key("dn:d"), "jid", "x")
	b.client.RPush(b.ctx, k.job(old)+":logs", "l")
	nw := mustAdd(t, b, "new", rep)
	if nw == old {
		t.Fatal("replace returned the old id")
	}
	if b.client.Exists(b.ctx, k.job(old), k.job(old)+":logs", k.key("dn:d")).Val() != 0 {
		t.Fatal("old job, its logs or the stash kept")
	}
	if got := b.client.Get(b.ctx, k.key("de:d")).Val(); got != nw {
		t.Fatalf("de key = %q", got)
	}
	if ttl := b.client.PTTL(b.ctx, k.key("de:d")).Val(); ttl > 30*time.Second || ttl <= 0 {
		t.Fatalf("PTTL %v, want the kept TTL", ttl)
	}
	if b.state(t, nw) != StateDelayed || b.client.ZCard(b.ctx, k.delayed()).Val() != 1 {
		t.Fatal("new job not the only delayed one")
	}
	want := []event{{"event": "removed", "jobId": old, "prev": "delayed"}, dedupEv(nw, "d", old)}
	if got := dedupEvents(t, b); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	// the owner no longer delayed: kept, no event
	b2 := setup(t)
	now := &AddOptions{Deduplication: &Deduplication{ID: "d", Replace: true}}
	owner := mustAdd(t, b2, "owner", now)
	if id := mustAdd(t, b2, "again", now); id != owner {
		t.Fatalf("got %q", id)
	}
	if got := dedupEvents(t, b2); len(got) != 0 {
		t.Fatalf("events %v", got)
	}
	if b2.client.LLen(b2.ctx, b2.q.k.wait()).Val() != 1 {
		t.Fatal("second job stored")
	}
}

// 16: reschedule keeps the delayed owner (id, data), rewrites its delay and
// re-scores it from the new add's timestamp.
func TestDedupProducerReschedule(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.q.k
	const t1, t2 = int64(1_900_000_000_000), int64(1_900_000_001_000)
	o := func(ts int64, d time.Duration) *AddOptions {
		return &AddOptions{Timestamp: time.UnixMilli(ts), Delay: d, Deduplication: &Deduplication{ID: "d", Reschedule: true}}
	}
	owner := mustAdd(t, b, "owner", o(t1, 5*time.Second))
	dataBefore := b.hash(t, owner)["data"]
	evBefore := len(b.events(t))
	if id := mustAdd(t, b, "second", o(t2, 8*time.Second)); id != owner {
		t.Fatalf("got %q", id)
	}
	h := b.hash(t, owner)
	if h["delay"] != "8000" || h["data"] != dataBefore || h["name"] != "owner" {
		t.Fatalf("owner hash %v", h)
	}
	if sc := b.client.ZScore(b.ctx, k.delayed(), owner).Val(); int64(sc) != (t2+8000)*4096 {
		t.Fatalf("score %v, want %d", int64(sc), (t2+8000)*4096)
	}
	if b.client.ZCard(b.ctx, k.delayed()).Val() != 1 || b.client.Exists(b.ctx, k.job("2")).Val() != 0 {
		t.Fatal("a second job exists")
	}
	var got []event
	for _, e := range b.events(t)[evBefore:] {
		delete(e, "name")
		got = append(got, e)
	}
	want := []event{dedupEv(owner, "d", "2"), {"event": "delayed", "jobId": owner, "delay": "1900000009000"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if m := b.client.ZScore(b.ctx, k.marker(), "1").Val(); int64(m) != t2+8000 {
		t.Fatalf("marker %v", m)
	}
}

// 17 (producer side): keepLastIfActive stashes the would-be job in dn:<id>
// while the owner is active and persists the de key; otherwise it behaves
// like simple mode.
func TestDedupProducerKeepLastIfActive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.q.k
	kl := func(id string) *AddOptions {
		return &AddOptions{JobID: id, Deduplication: &Deduplication{ID: "d", TTL: 60000, KeepLastIfActive: true}}
	}
	owner := mustAdd(t, b, "owner", kl(""))
	if ttl := b.client.PTTL(b.ctx, k.key("de:d")).Val(); ttl != -1 {
		t.Fatalf("keepLastIfActive key has TTL %v", ttl)
	}
	if id := mustAdd(t, b, "waiting", kl("")); id != owner { // owner not active: no stash
		t.Fatalf("got %q", id)
	}
	if b.client.Exists(b.ctx, k.key("dn:d")).Val() != 0 {
		t.Fatal("stashed while the owner waits")
	}
	w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil }, nil)
	r, tok := fetch(t, w)
	b.client.PExpire(b.ctx, k.key("de:d"), time.Minute)
	mustAdd(t, b, "s1", kl(""))
	j, err := b.q.Add(b.ctx, "s2", map[string]int{"v": 9}, kl("custom"))
	if err != nil || j.ID != owner {
		t.Fatalf("stash add: %v %v", j, err)
	}
	dn := b.client.HGetAll(b.ctx, k.key("dn:d")).Val()
	wantDN := map[string]string{"name": "s2", "data": `{"v":9}`, "jid": "custom",
		"opts": `{"attempts":0,"de":{"id":"d","ttl":60000,"keepLastIfActive":true},"jobId":"custom"}`}
	if !reflect.DeepEqual(dn, wantDN) {
		t.Fatalf("stash %v, want %v", dn, wantDN)
	}
	if ttl := b.client.PTTL(b.ctx, k.key("de:d")).Val(); ttl != -1 {
		t.Fatalf("de key not persisted: %v", ttl)
	}
	want := []event{dedupEv(owner, "d", "2"), dedupEv(owner, "d", "3"), dedupEv(owner, "d", "custom")}
	if got := dedupEvents(t, b); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	job, _ := jobFromHash(r.id, fieldsToMap(r.fields))
	w.closing.Store(true)
	w.complete(job, tok, "null")
	if got := b.client.Get(b.ctx, k.key("de:d")).Val(); got != "custom" || b.hash(t, "custom")["name"] != "s2" {
		t.Fatalf("de key %q after the owner finished", got)
	}
}

// Stale-key recovery: a TTL-less key whose owner hash is gone is replaced;
// a key with a TTL is not.
func TestDedupProducerStaleKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.q.k
	b.client.Set(b.ctx, k.key("de:d"), "ghost", 0)
	b.client.HSet(b.ctx, k.key("dn:d"), "jid", "zombie")
	id := mustAdd(t, b, "a", &AddOptions{Deduplication: &Deduplication{ID: "d"}})
	if id == "ghost" || b.client.Get(b.ctx, k.key("de:d")).Val() != id || b.client.Exists(b.ctx, k.key("dn:d")).Val() != 0 {
		t.Fatalf("stale key not recovered (%q)", id)
	}
	if got := dedupEvents(t, b); len(got) != 0 {
		t.Fatalf("events %v", got)
	}
	b.client.Set(b.ctx, k.key("de:e"), "ghost", time.Minute)
	if id := mustAdd(t, b, "b", &AddOptions{Deduplication: &Deduplication{ID: "e"}}); id != "ghost" {
		t.Fatalf("a key with a TTL was recovered: %q", id)
	}
}

func TestDedupProducerValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, d := range []*Deduplication{{}, {ID: "d", TTL: -1}, {ID: "d", TTL: 1.5}} {
		_, err := b.q.Add(b.ctx, "x", nil, &AddOptions{Deduplication: d})
		var oe *OptionError
		if !errors.As(err, &oe) {
			t.Fatalf("%+v: error %v", d, err)
		}
		if _, err := b.q.AddBulk(b.ctx, []BulkJob{{Name: "ok"}, {Name: "x", Opts: &AddOptions{Deduplication: d}}}); err == nil {
			t.Fatalf("%+v: AddBulk accepted", d)
		}
	}
	if b.client.Exists(b.ctx, b.q.k.id()).Val() != 0 {
		t.Fatal("an invalid add wrote")
	}
}
