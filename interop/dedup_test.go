package interop

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// Checklist 17: keepLastIfActive with a Go worker finishing the owner. Node
// adds the owner; while a Go worker holds it, two more Node adds are
// stashed in dn:d (the last one wins); when the Go worker completes the
// owner, the stashed job is created with id = jid (added, waiting before
// completed), dn:d is gone and de:d holds jid without TTL.
func TestInterop17_KeepLastIfActiveGoFinishes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("d17")
	de := map[string]any{"deduplication": map[string]any{"id": "d", "keepLastIfActive": true}}
	owner := e.nodeAdd(name, []nodeJobSpec{{Name: "owner", Data: map[string]any{"v": 1}, Opts: de}})[0]

	release := make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	var jidV atomic.Value
	jidV.Store("")
	stop := make(chan struct{})
	hold := func(ctx context.Context, j *queue.Job) {
		if j.ID == owner {
			<-release
			return
		}
		if j.ID == jidV.Load().(string) { // keep the re-queued job active so de:d stays put
			select {
			case <-ctx.Done():
			case <-stop:
			}
		}
	}
	_, rec := e.goWorker(name, &queue.WorkerOptions{Concurrency: 1}, hold)
	t.Cleanup(func() { close(stop) }) // runs before the worker's Close
	rec.waitStarted(t, owner, 10*time.Second)

	ids := e.nodeAdd(name, []nodeJobSpec{
		{Name: "second", Data: map[string]any{"v": 2}, Opts: de},
		{Name: "third", Data: map[string]any{"v": 3}, Opts: de},
	})
	if ids[0] != owner || ids[1] != owner {
		t.Fatalf("deduplicated adds returned %v, want the owner %s", ids, owner)
	}
	stash := e.c.HGetAll(e.ctx, e.key(name, "dn:d")).Val()
	if stash["name"] != "third" || stash["jid"] == "" {
		t.Fatalf("stash %v", stash)
	}
	jid := stash["jid"]
	jidV.Store(jid)
	close(release)

	waitUntil(t, 10*time.Second, "stashed job created", func() (bool, error) {
		return e.c.Exists(e.ctx, e.key(name, jid)).Val() == 1, nil
	})
	rec.waitStarted(t, jid, 10*time.Second)
	if got := e.c.Get(e.ctx, e.key(name, "de:d")).Val(); got != jid {
		t.Fatalf("de:d = %q, want %s", got, jid)
	}
	if ttl := e.c.PTTL(e.ctx, e.key(name, "de:d")).Val(); ttl != -1 {
		t.Fatalf("de:d TTL %v", ttl)
	}
	if e.c.Exists(e.ctx, e.key(name, "dn:d")).Val() != 0 {
		t.Fatal("dn:d not deleted")
	}
	// events: added(jid), waiting(jid), then completed(owner)
	var order []string
	for _, x := range e.streamEntries(name) {
		ev, id := x.Values["event"], x.Values["jobId"]
		if (id == jid && (ev == "added" || ev == "waiting")) || (id == owner && ev == "completed") {
			order = append(order, ev.(string))
		}
	}
	if len(order) != 3 || order[0] != "added" || order[1] != "waiting" || order[2] != "completed" {
		t.Fatalf("event order %v", order)
	}
	jobs, _ := e.nodeInspect(name, []string{jid}, nil)
	m := jobs[jid]
	if m.Job == nil || m.Job.Name != "third" || string(m.Job.Data) != `{"v":3}` || m.State != "active" {
		t.Fatalf("Node reads the re-queued job as %s", m.Raw)
	}
}
