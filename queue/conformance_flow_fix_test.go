package queue

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// Seed → act → compare tests for issue 9 items 1–3 and the fractional
// retention age: a Node-shaped flow is written straight into Redis (a
// parent on its own queue in waiting-children, children on the bundle's
// queue carrying parentKey and the parent JSON a Node FlowProducer
// writes), one child is finished by a Go worker, and the Redis effects
// are compared with what BullMQ 6.7.0's moveToFinished does in the same
// situation.

// flowSeed is one seeded parent.
type flowSeed struct {
	b      *bundle
	pk     keys   // the parent's queue
	parent string // parent id
}

// seedParent writes parent "p1" on queue <name>-p in waiting-children,
// with extra hash fields (e.g. "delay", 2000).
func seedParent(t *testing.T, b *bundle, fields ...any) flowSeed {
	t.Helper()
	f := flowSeed{b: b, pk: newKeys(b.q.k.prefix, b.name+"-p"), parent: "p1"}
	h := append([]any{"name", "parent", "data", "{}", "opts", "{}", "timestamp", time.Now().UnixMilli(),
		"delay", 0, "priority", 0}, fields...)
	if err := b.client.HSet(b.ctx, f.key(), h...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.client.ZAdd(b.ctx, f.pk.waitingChildren(), redisZ(float64(time.Now().UnixMilli()), f.parent)).Err(); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f flowSeed) key() string { return f.pk.job(f.parent) }

// child writes child id on the bundle's queue as a dependency of the
// parent. flags is appended to the parent JSON (e.g. `,"fpof":true`),
// opts is the child's opts JSON. ready puts it in wait.
func (f flowSeed) child(t *testing.T, id, flags, opts string, ready bool) string {
	t.Helper()
	b := f.b
	ck := b.q.k.job(id)
	parentJSON := fmt.Sprintf(`{"id":%q,"queueKey":%q%s}`, f.parent, f.pk.prefix+":"+f.pk.name, flags)
	if err := b.client.HSet(b.ctx, ck, "name", "child-"+id, "data", "{}", "opts", opts,
		"timestamp", time.Now().UnixMilli(), "delay", 0, "priority", 0,
		"parentKey", f.key(), "parent", parentJSON).Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.client.SAdd(b.ctx, f.key()+":dependencies", ck).Err(); err != nil {
		t.Fatal(err)
	}
	if ready {
		if err := b.client.LPush(b.ctx, b.q.k.wait(), id).Err(); err != nil {
			t.Fatal(err)
		}
	}
	return ck
}

// events lists the parent queue's events as "event/prev" (or
// "event/delay=<due>").
func (f flowSeed) events(t *testing.T) []string {
	t.Helper()
	xs, err := f.b.client.XRange(f.b.ctx, f.pk.events(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range xs {
		s, _ := x.Values["event"].(string)
		if p, ok := x.Values["prev"].(string); ok {
			s += "/" + p
		}
		if d, ok := x.Values["delay"].(string); ok {
			s += "/delay=" + d
		}
		out = append(out, s)
	}
	return out
}

// where lists the parent queue structures holding the parent.
func (f flowSeed) where(t *testing.T) []string {
	t.Helper()
	b := f.b
	var at []string
	for _, z := range []string{"waiting-children", "delayed", "prioritized", "failed", "completed"} {
		if _, err := b.client.ZScore(b.ctx, f.pk.key(z), f.parent).Result(); err == nil {
			at = append(at, z)
		}
	}
	for _, l := range []string{"wait", "active"} {
		if containsStr(b.client.LRange(b.ctx, f.pk.key(l), 0, -1).Val(), f.parent) {
			at = append(at, l)
		}
	}
	return at
}

func containsStr(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// finishOne fetches the next job with a non-fetching worker and completes
// it with rv, or fails it with reason when rv is "".
func finishOne(t *testing.T, b *bundle, rv, reason string) string {
	t.Helper()
	w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil }, nil)
	w.closing.Store(true) // no fetch-next
	r, tok := fetch(t, w)
	if r.id == "" {
		t.Fatal("nothing to fetch")
	}
	job, err := jobFromHash(r.id, fieldsToMap(r.fields))
	if err != nil {
		t.Fatal(err)
	}
	if rv != "" {
		if _, _, ok := w.complete(job, tok, rv); !ok {
			t.Fatal("complete refused")
		}
	} else {
		if _, _, ok := w.fail(job, tok, errors.New(reason), ""); !ok {
			t.Fatal("fail refused")
		}
	}
	return r.id
}

func (f flowSeed) deps(t *testing.T) []string {
	t.Helper()
	return sortedMembers(f.b.client.SMembers(f.b.ctx, f.key()+":dependencies").Val())
}

func sortedMembers(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// Issue 9 item 1: a failed child with removeOnFail and no failure policy
// is detached from its parent, and the last one releases the parent into
// wait with a `waiting` prev=`waiting-children` event, as BullMQ's
// removeParentDependencyKey does (into `wait` whatever the parent's delay
// or priority). Same when the child is trimmed later by count or age, and
// for a completed child still listed as a dependency when trimmed.
func TestIssue9Item1_FailedChildRemovedReleasesParent(t *testing.T) {
	t.Parallel()
	released := func(t *testing.T, f flowSeed) {
		t.Helper()
		if got := f.where(t); !reflect.DeepEqual(got, []string{"wait"}) {
			t.Fatalf("parent in %v, want [wait]", got)
		}
		if got := f.events(t); !reflect.DeepEqual(got, []string{"waiting/waiting-children"}) {
			t.Fatalf("parent events %v", got)
		}
		if n := f.b.client.Exists(f.b.ctx, f.key()+":dependencies").Val(); n != 0 {
			t.Fatal("parent dependencies left")
		}
		if _, err := f.b.client.ZScore(f.b.ctx, f.pk.marker(), "0").Result(); err != nil {
			t.Fatal("no marker 0 on the parent's queue")
		}
	}
	for _, tc := range []struct {
		name string
		opts string
	}{
		{"removeOnFail-true", `{"removeOnFail":true}`},
		{"removeOnFail-0", `{"removeOnFail":0}`},
		{"removeOnFail-count-0", `{"removeOnFail":{"count":0}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			f := seedParent(t, b)
			ck := f.child(t, "c1", "", tc.opts, true)
			finishOne(t, b, "", "boom")
			if n := b.client.Exists(b.ctx, ck).Val(); n != 0 {
				t.Fatal("child hash kept")
			}
			released(t, f)
		})
	}
	t.Run("sibling-pending", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := seedParent(t, b)
		f.child(t, "c1", "", `{"removeOnFail":true}`, true)
		sib := f.child(t, "c2", "", `{}`, false)
		finishOne(t, b, "", "boom")
		if got := f.deps(t); !reflect.DeepEqual(got, []string{sib}) {
			t.Fatalf("dependencies %v, want only the sibling", got)
		}
		if got := f.where(t); !reflect.DeepEqual(got, []string{"waiting-children"}) || len(f.events(t)) != 0 {
			t.Fatalf("parent in %v, events %v", got, f.events(t))
		}
	})
	t.Run("delayed-prioritized-parent-goes-to-wait", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := seedParent(t, b, "delay", 5000, "priority", 3)
		f.child(t, "c1", "", `{"removeOnFail":true}`, true)
		finishOne(t, b, "", "boom")
		released(t, f)
	})
	t.Run("failed-child-trimmed-by-count", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := seedParent(t, b)
		ck := f.child(t, "c1", "", `{}`, true)
		finishOne(t, b, "", "kept failure")
		if got := f.where(t); !reflect.DeepEqual(got, []string{"waiting-children"}) {
			t.Fatalf("a kept failed child without policy must leave the parent waiting: %v", got)
		}
		b.client.HSet(b.ctx, b.q.k.job("x"), "name", "x", "data", "{}", "opts", `{"removeOnFail":1}`, "timestamp", 1)
		b.client.LPush(b.ctx, b.q.k.wait(), "x")
		time.Sleep(2 * time.Millisecond) // x's finish time is after c1's
		finishOne(t, b, "", "trim")
		if n := b.client.Exists(b.ctx, ck).Val(); n != 0 {
			t.Fatal("trimmed child hash kept")
		}
		if got := b.client.ZRange(b.ctx, b.q.k.failed(), 0, -1).Val(); !reflect.DeepEqual(got, []string{"x"}) {
			t.Fatalf("failed = %v", got)
		}
		released(t, f)
	})
	t.Run("failed-child-trimmed-by-age", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := seedParent(t, b)
		ck := f.child(t, "c1", "", `{}`, false)
		old := time.Now().UnixMilli() - 5000
		b.client.ZAdd(b.ctx, b.q.k.failed(), redisZ(float64(old), "c1"))
		b.client.HSet(b.ctx, ck, "finishedOn", old, "failedReason", "old")
		b.client.HSet(b.ctx, b.q.k.job("x"), "name", "x", "data", "{}", "opts", `{"removeOnFail":{"age":2}}`, "timestamp", 1)
		b.client.LPush(b.ctx, b.q.k.wait(), "x")
		finishOne(t, b, "", "trim")
		if n := b.client.Exists(b.ctx, ck).Val(); n != 0 {
			t.Fatal("trimmed child hash kept")
		}
		released(t, f)
	})
	t.Run("completed-child-trimmed-by-count", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := seedParent(t, b)
		ck := f.child(t, "c1", "", `{}`, false)
		b.client.ZAdd(b.ctx, b.q.k.completed(), redisZ(float64(time.Now().UnixMilli()-1000), "c1"))
		b.client.HSet(b.ctx, ck, "finishedOn", 1, "returnvalue", "1")
		b.client.HSet(b.ctx, b.q.k.job("x"), "name", "x", "data", "{}", "opts", `{"removeOnComplete":1}`, "timestamp", 1)
		b.client.LPush(b.ctx, b.q.k.wait(), "x")
		finishOne(t, b, `"v"`, "")
		if n := b.client.Exists(b.ctx, ck).Val(); n != 0 {
			t.Fatal("trimmed child hash kept")
		}
		released(t, f)
	})
	t.Run("trimmed-child-of-missing-parent", func(t *testing.T) {
		t.Parallel()
		// BullMQ detaches a trimmed job only when its parent hash exists.
		b := setup(t)
		f := seedParent(t, b)
		ck := f.child(t, "c1", "", `{}`, false)
		b.client.Del(b.ctx, f.key())
		b.client.ZAdd(b.ctx, b.q.k.failed(), redisZ(float64(time.Now().UnixMilli()-1000), "c1"))
		b.client.HSet(b.ctx, b.q.k.job("x"), "name", "x", "data", "{}", "opts", `{"removeOnFail":1}`, "timestamp", 1)
		b.client.LPush(b.ctx, b.q.k.wait(), "x")
		finishOne(t, b, "", "trim")
		if n := b.client.Exists(b.ctx, ck).Val(); n != 0 {
			t.Fatal("trimmed child hash kept")
		}
		if got := f.deps(t); !reflect.DeepEqual(got, []string{ck}) || b.client.Exists(b.ctx, f.key()).Val() != 0 {
			t.Fatalf("missing parent touched: deps %v", got)
		}
		if got := f.where(t); !reflect.DeepEqual(got, []string{"waiting-children"}) || len(f.events(t)) != 0 {
			t.Fatalf("parent in %v, events %v", got, f.events(t))
		}
	})
}

// Issue 9 item 2: a parent released into `delayed` gets only a `delayed`
// event; `waiting` is for wait and prioritized.
func TestIssue9Item2_DelayedParentNoWaitingEvent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		fields []any
		where  string
	}{
		{"delayed", []any{"delay", 5000}, "delayed"},
		{"prioritized", []any{"priority", 4}, "prioritized"},
		{"wait", nil, "wait"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			f := seedParent(t, b, tc.fields...)
			f.child(t, "c1", "", `{}`, true)
			before := time.Now().UnixMilli()
			finishOne(t, b, `"v"`, "")
			after := time.Now().UnixMilli()
			if got := f.where(t); !reflect.DeepEqual(got, []string{tc.where}) {
				t.Fatalf("parent in %v, want %s", got, tc.where)
			}
			evs := f.events(t)
			if len(evs) != 1 {
				t.Fatalf("parent events %v, want exactly one", evs)
			}
			if tc.where != "delayed" {
				if evs[0] != "waiting/waiting-children" {
					t.Fatalf("parent events %v", evs)
				}
				return
			}
			var due int64
			if _, err := fmt.Sscanf(evs[0], "delayed/delay=%d", &due); err != nil || due < before+5000 || due > after+5000 {
				t.Fatalf("parent events %v", evs)
			}
			s := b.client.ZScore(b.ctx, f.pk.delayed(), f.parent).Val()
			if int64(s) != due*4096 {
				t.Fatalf("delayed score %v, want %d", s, due*4096)
			}
			if m := b.client.ZScore(b.ctx, f.pk.marker(), "1").Val(); int64(m) != due {
				t.Fatalf("marker 1 = %v, want %d", m, due)
			}
		})
	}
}

// Issue 9 item 3: fpof / cpof / idof act only when the child was still a
// dependency of its parent and the parent hash exists; fpof sets no `defa`
// on a parent already failed. Nothing is written into a missing parent.
func TestIssue9Item3_FailurePolicyChecksParent(t *testing.T) {
	t.Parallel()
	flags := []struct{ name, flags string }{
		{"fpof", `,"fpof":true`}, {"cpof", `,"cpof":true`}, {"idof", `,"idof":true`}, {"rdof", `,"rdof":true`},
	}
	parentKeys := func(f flowSeed) int64 {
		k := f.key()
		return f.b.client.Exists(f.b.ctx, k, k+":unsuccessful", k+":failed", k+":processed").Val()
	}
	for _, fl := range flags {
		fl := fl
		t.Run(fl.name+"/parent-removed", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			f := seedParent(t, b)
			f.child(t, "c1", fl.flags, `{}`, true)
			// removed as Node's job.remove() does: the hash and its sub-keys
			b.client.Del(b.ctx, f.key(), f.key()+":dependencies")
			b.client.ZRem(b.ctx, f.pk.waitingChildren(), f.parent)
			finishOne(t, b, "", "boom")
			if n := parentKeys(f); n != 0 {
				t.Fatalf("%d keys written for a removed parent", n)
			}
			if len(f.events(t)) != 0 || len(f.where(t)) != 0 {
				t.Fatalf("removed parent got events %v / state %v", f.events(t), f.where(t))
			}
		})
		t.Run(fl.name+"/parent-hash-missing", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			f := seedParent(t, b)
			f.child(t, "c1", fl.flags, `{}`, true)
			b.client.Del(b.ctx, f.key())
			finishOne(t, b, "", "boom")
			k := f.key()
			if n := b.client.Exists(b.ctx, k, k+":unsuccessful", k+":failed").Val(); n != 0 {
				t.Fatalf("%d keys written into a missing parent", n)
			}
			if len(f.events(t)) != 0 {
				t.Fatalf("missing parent got events %v", f.events(t))
			}
		})
		t.Run(fl.name+"/not-a-dependency", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			f := seedParent(t, b)
			ck := f.child(t, "c1", fl.flags, `{}`, true)
			b.client.SRem(b.ctx, f.key()+":dependencies", ck)
			h0 := b.client.HGetAll(b.ctx, f.key()).Val()
			finishOne(t, b, "", "boom")
			if h := b.client.HGetAll(b.ctx, f.key()).Val(); !reflect.DeepEqual(h, h0) {
				t.Fatalf("parent hash changed: %v → %v", h0, h)
			}
			k := f.key()
			if n := b.client.Exists(b.ctx, k+":unsuccessful", k+":failed").Val(); n != 0 {
				t.Fatal("failure recorded for a child that was no longer a dependency")
			}
			if got := f.where(t); !reflect.DeepEqual(got, []string{"waiting-children"}) || len(f.events(t)) != 0 {
				t.Fatalf("parent in %v, events %v", got, f.events(t))
			}
		})
	}
	t.Run("fpof/parent-already-failed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := seedParent(t, b)
		ck := f.child(t, "c1", `,"fpof":true`, `{}`, true)
		b.client.ZRem(b.ctx, f.pk.waitingChildren(), f.parent)
		b.client.ZAdd(b.ctx, f.pk.failed(), redisZ(1, f.parent))
		b.client.HSet(b.ctx, f.key(), "failedReason", "earlier", "finishedOn", 1)
		finishOne(t, b, "", "boom")
		if _, err := b.client.HGet(b.ctx, f.key(), "defa").Result(); err == nil {
			t.Fatal("defa added to a parent already failed")
		}
		// as BullMQ: the dependency moves to :unsuccessful, nothing else
		if got := b.client.ZRange(b.ctx, f.key()+":unsuccessful", 0, -1).Val(); !reflect.DeepEqual(got, []string{ck}) {
			t.Fatalf(":unsuccessful = %v", got)
		}
		if got := f.where(t); !reflect.DeepEqual(got, []string{"failed"}) || len(f.events(t)) != 0 {
			t.Fatalf("parent in %v, events %v", got, f.events(t))
		}
	})
	t.Run("fpof/parent-waiting-elsewhere", func(t *testing.T) {
		t.Parallel()
		// parent already in wait (e.g. released by a cpof sibling): defa only
		b := setup(t)
		f := seedParent(t, b)
		ck := f.child(t, "c1", `,"fpof":true`, `{}`, true)
		b.client.ZRem(b.ctx, f.pk.waitingChildren(), f.parent)
		b.client.RPush(b.ctx, f.pk.wait(), f.parent)
		finishOne(t, b, "", "boom")
		if d := b.client.HGet(b.ctx, f.key(), "defa").Val(); d != "child "+ck+" failed" {
			t.Fatalf("defa = %q", d)
		}
		if got := f.where(t); !reflect.DeepEqual(got, []string{"wait"}) || len(f.events(t)) != 0 {
			t.Fatalf("parent in %v, events %v", got, f.events(t))
		}
	})
	t.Run("fpof/delayed-parent-released", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := seedParent(t, b, "delay", 5000)
		ck := f.child(t, "c1", `,"fpof":true`, `{}`, true)
		b.client.ZRem(b.ctx, f.pk.waitingChildren(), f.parent)
		b.client.ZAdd(b.ctx, f.pk.delayed(), redisZ(float64((time.Now().UnixMilli()+5000)*4096), f.parent))
		finishOne(t, b, "", "boom")
		if got := f.where(t); !reflect.DeepEqual(got, []string{"wait"}) {
			t.Fatalf("parent in %v", got)
		}
		ph := b.client.HGetAll(b.ctx, f.key()).Val()
		if ph["defa"] != "child "+ck+" failed" || ph["delay"] != "0" {
			t.Fatalf("parent hash %v", ph)
		}
		if got := f.events(t); !reflect.DeepEqual(got, []string{"waiting/waiting-children"}) {
			t.Fatalf("parent events %v", got)
		}
	})
}

// Issue 9, also fix: a fractional retention age (removeOnComplete
// {age: 0.5}) removes entries older than 500 ms, as BullMQ does (now −
// age·1000), instead of meaning "no age limit"; a Go KeepFor(500 ms)
// stores {"age":0.5}.
func TestIssue9AlsoFix_FractionalRemoveAge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		opts   string // the job's own opts ("" = none)
		worker *KeepJobs
		failed bool
	}{
		{"job-option-completed", `{"removeOnComplete":{"age":0.5}}`, nil, false},
		{"job-option-failed", `{"removeOnFail":{"age":0.5}}`, nil, true},
		{"worker-option", `{}`, KeepFor(500*time.Millisecond, -1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			set := b.q.k.completed()
			if tc.failed {
				set = b.q.k.failed()
			}
			now := time.Now().UnixMilli()
			b.client.ZAdd(b.ctx, set, redisZ(float64(now-2000), "old"), redisZ(float64(now+60000), "young"))
			b.client.HSet(b.ctx, b.q.k.job("old"), "name", "old")
			b.client.HSet(b.ctx, b.q.k.job("young"), "name", "young")
			b.client.HSet(b.ctx, b.q.k.job("j"), "name", "j", "data", "{}", "opts", tc.opts, "timestamp", now)
			b.client.LPush(b.ctx, b.q.k.wait(), "j")
			w := newWorker(t, b, func(context.Context, *Job) (any, error) { return nil, nil },
				&WorkerOptions{RemoveOnComplete: tc.worker})
			w.closing.Store(true)
			r, tok := fetch(t, w)
			job, _ := jobFromHash(r.id, fieldsToMap(r.fields))
			if tc.failed {
				w.fail(job, tok, errors.New("x"), "")
			} else {
				w.complete(job, tok, "1")
			}
			got := sortedMembers(b.client.ZRange(b.ctx, set, 0, -1).Val())
			if !reflect.DeepEqual(got, []string{"j", "young"}) || b.client.Exists(b.ctx, b.q.k.job("old")).Val() != 0 {
				t.Fatalf("finished set %v; an entry 2 s old must be gone with age 0.5", got)
			}
		})
	}
	t.Run("marshal", func(t *testing.T) {
		t.Parallel()
		for age, want := range map[time.Duration]string{
			500 * time.Millisecond: `{"age":0.5}`, 2 * time.Second: `{"age":2}`, 1500 * time.Millisecond: `{"age":1.5}`,
		} {
			b, err := KeepFor(age, -1).MarshalJSON()
			if err != nil || string(b) != want {
				t.Fatalf("KeepFor(%s) = %s (%v), want %s", age, b, err, want)
			}
			var k KeepJobs
			if err := k.UnmarshalJSON(b); err != nil || k.Age != age {
				t.Fatalf("round trip of %s: %s (%v)", want, k.Age, err)
			}
		}
	})
}
