package queue

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"
)

// reservedIDs are custom ids that name a key of the queue's own layout (or
// one of its key families). Issue 10 item 2: "active", "meta", "events"…
// were accepted and overwrote the queue's keys.
var reservedIDs = []string{
	"wait", "paused", "active", "prioritized", "pc", "delayed", "waiting-children", "completed", "failed",
	"stalled", "stalled-check", "limiter", "meta", "id", "events", "marker", "repeat", "priority", "delay",
	"metrics", "de", "dn",
	"metrics:completed:data", "metrics:failed:data", "de:a:b", "dn:a:b", "repeat:a:b",
}

// keyTypes returns every key of Redis with its type, to show that a
// rejected add wrote nothing.
func keyTypes(t *testing.T, b *bundle) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range b.client.Keys(b.ctx, "*").Val() {
		out[k] = b.client.Type(b.ctx, k).Val()
	}
	return out
}

func TestAddRejectsQueueKeyIDs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Some state first, so that the keys the attack targets exist.
	first := mustAdd(t, b, "first", nil)
	if _, err := b.q.Add(b.ctx, "later", nil, &AddOptions{Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	before := keyTypes(t, b)
	for _, id := range reservedIDs {
		_, err := b.q.Add(b.ctx, "attack", map[string]int{"x": 1}, &AddOptions{JobID: id})
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != "JobID" || !strings.Contains(oe.Reason, "queue's own keys") {
			t.Errorf("Add JobID %q: got %v, want an OptionError for JobID", id, err)
		}
		_, err = b.q.AddBulk(b.ctx, []BulkJob{{Name: "ok", Data: nil}, {Name: "attack", Opts: &AddOptions{JobID: id}}})
		if !errors.As(err, &oe) || oe.Option != "JobID" {
			t.Errorf("AddBulk JobID %q: got %v, want an OptionError for JobID", id, err)
		}
	}
	after := keyTypes(t, b)
	if len(before) != len(after) {
		t.Errorf("rejected adds wrote keys: before %v after %v", sortedKeys(before), sortedKeys(after))
	}
	for k, typ := range before {
		if after[k] != typ {
			t.Errorf("key %s changed type %s -> %s", k, typ, after[k])
		}
	}
	// Ids that only look like queue keys stay valid (case differs, extra
	// text, three parts not in a reserved family).
	for _, id := range []string{"Active", "wait2", "my-meta", "a:active:b", "order:42:x"} {
		if err := ValidateJobID(id); err != nil {
			t.Errorf("ValidateJobID(%q) = %v, want accepted", id, err)
		}
	}

	// The queue keeps working: a worker runs the jobs added before and after.
	next := mustAdd(t, b, "next", nil)
	startWorker(t, b, func(context.Context, *Job) (any, error) { return "ok", nil }, nil)
	b.waitState(t, first, StateCompleted)
	b.waitState(t, next, StateCompleted)
}

// GetJob and GetState never read a key that is not a job hash: each
// answers "not found" / "unknown" instead of WRONGTYPE or a fake job built
// from meta, a dedup stash or a scheduler.
func TestGetJobNeverReadsQueueKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := mustAdd(t, b, "j", nil)
	dj, err := b.q.Add(b.ctx, "d", nil, &AddOptions{Deduplication: &Deduplication{ID: "dd"}})
	if err != nil {
		t.Fatal(err)
	}
	k := b.q.k
	// Keys a running system has that this test did not create through the
	// API: a lock, logs, flow keys, a scheduler, metrics, a stash.
	b.client.Set(b.ctx, k.lock(id), "token", time.Minute)
	b.client.RPush(b.ctx, k.logs(id), "line")
	b.client.HSet(b.ctx, k.key(id+":processed"), "bull:x:1", "1")
	b.client.SAdd(b.ctx, k.key(id+":dependencies"), "bull:x:2")
	b.client.HSet(b.ctx, k.key("repeat:s"), "name", "n", "every", "1000")
	b.client.ZAdd(b.ctx, k.repeat(), redisZ(1, "s"))
	b.client.HSet(b.ctx, k.key("dn:dd"), "name", "n", "data", "{}", "opts", "{}")
	b.client.HSet(b.ctx, k.key("metrics:completed"), "count", "1")
	b.client.Set(b.ctx, k.stalledCheck(), "1", time.Minute)
	b.client.Set(b.ctx, k.limiter(), "1", time.Minute)
	b.client.SAdd(b.ctx, k.stalled(), id)

	var probe []string
	for key := range keyTypes(t, b) {
		if s, ok := strings.CutPrefix(key, k.base); ok && s != id && s != dj.ID {
			probe = append(probe, s)
		}
	}
	probe = append(probe, "wait", "paused", "active", "completed", "failed", "waiting-children", "priority", "delay", "")
	sort.Strings(probe)
	for _, p := range probe {
		j, err := b.q.GetJob(b.ctx, p)
		if !errors.Is(err, ErrJobNotFound) {
			t.Errorf("GetJob(%q) = %+v, %v; want ErrJobNotFound", p, j, err)
		}
		st, err := b.q.GetState(b.ctx, p)
		if err != nil || st != StateUnknown {
			t.Errorf("GetState(%q) = %q, %v; want unknown", p, st, err)
		}
	}
	// Real jobs still read, scheduler iterations and three-part ids too.
	if j, err := b.q.GetJob(b.ctx, id); err != nil || j.Name != "j" {
		t.Errorf("GetJob(%q) = %v, %v", id, j, err)
	}
	for _, cid := range []string{"order:42:x", "repeat:s:1700000000000", "a:b:lock"} {
		if _, err := b.q.Add(b.ctx, "c", nil, &AddOptions{JobID: cid}); err != nil && !strings.HasPrefix(cid, "repeat:") {
			t.Fatalf("add %q: %v", cid, err)
		}
		if strings.HasPrefix(cid, "repeat:") {
			// Iterations are written by the scheduler, not by Add.
			b.client.HSet(b.ctx, k.job(cid), "name", "c", "data", "{}", "opts", "{}", "timestamp", "1")
		}
		if j, err := b.q.GetJob(b.ctx, cid); err != nil || j.ID != cid {
			t.Errorf("GetJob(%q) = %v, %v", cid, j, err)
		}
	}
}

// AddWithOutcome tells a new job from an existing custom id and from a
// deduplicated add (issue 10 item 15: the API must not say "queued" for a
// job it did not store).
func TestAddWithOutcome(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tt := range []struct {
		opts   *AddOptions
		id     string
		result AddOutcome
	}{
		{&AddOptions{JobID: "order-1"}, "order-1", Added},
		{&AddOptions{JobID: "order-1"}, "order-1", AddedExisting},
		// The id counter moves on every add, custom ids included.
		{&AddOptions{Deduplication: &Deduplication{ID: "d"}}, "3", Added},
		{&AddOptions{Deduplication: &Deduplication{ID: "d"}}, "3", Deduplicated},
		{nil, "5", Added},
	} {
		j, outcome, err := b.q.AddWithOutcome(b.ctx, "n", map[string]int{"v": 1}, tt.opts)
		if err != nil || j.ID != tt.id || outcome != tt.result {
			t.Errorf("%+v: job %+v outcome %v err %v; want %s %v", tt.opts, j, outcome, err, tt.id, tt.result)
		}
	}
}
