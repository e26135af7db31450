package interop

import (
	"errors"
	"testing"

	"github.com/zyeute/zyeute-redis/queue"
)

// Deliberate divergence (docs/http-api.md, "Reserved job ids"): Node BullMQ 6.7.0
// accepts a custom id that names one of the queue's own keys and, when
// that key does not exist yet, stores the job's hash in its place; the Go
// producer refuses such ids, and Go readers never take that key for a job.
func TestInteropReservedJobIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.queueName("")
	ids := e.nodeAdd(name, []nodeJobSpec{
		{Name: "v", Data: map[string]any{}, Opts: map[string]any{"jobId": "completed"}},
		{Name: "v", Data: map[string]any{}, Opts: map[string]any{"jobId": "stalled-check"}},
	})
	for i, id := range []string{"completed", "stalled-check"} {
		if ids[i] != id {
			t.Fatalf("Node add %q returned %q: Node no longer accepts it, update docs/http-api.md (Reserved job ids)", id, ids[i])
		}
		if typ := e.c.Type(e.ctx, e.key(name, id)).Val(); typ != "hash" {
			t.Errorf("after Node's add, %s is a %s, want the job hash Node wrote over it", id, typ)
		}
		if err := queue.ValidateJobID(id); !errors.Is(err, queue.ErrInvalidOption) {
			t.Errorf("ValidateJobID(%q) = %v, want refused", id, err)
		}
		q := e.goQueue(name)
		if _, err := q.Add(e.ctx, "v", nil, &queue.AddOptions{JobID: id}); !errors.Is(err, queue.ErrInvalidOption) {
			t.Errorf("Go Add %q = %v, want refused", id, err)
		}
		if _, err := q.GetJob(e.ctx, id); !errors.Is(err, queue.ErrJobNotFound) {
			t.Errorf("Go GetJob(%q) = %v, want ErrJobNotFound", id, err)
		}
	}
}
