package queue

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestStateErrorNamesTheStateFound: Promote of a job that is not delayed
// and Retry of a job that is not in the state given say where the job is
// (a *StateError wrapping ErrNotInState); a job that is gone is
// ErrJobNotFound.
func TestStateErrorNamesTheStateFound(t *testing.T) {
	b := setup(t)
	waiting, err := b.q.Add(b.ctx, "w", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A completed job, as a worker leaves it.
	b.client.HSet(b.ctx, b.q.k.job("c1"), "name", "x", "data", "{}", "opts", "{}", "timestamp", time.Now().UnixMilli(),
		"finishedOn", time.Now().UnixMilli(), "returnvalue", "1")
	b.client.ZAdd(b.ctx, b.q.k.completed(), redis.Z{Score: float64(time.Now().UnixMilli()), Member: "c1"})
	completed, err := b.q.GetJob(b.ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}

	var se *StateError
	err = completed.Promote(b.ctx)
	if !errors.As(err, &se) || !errors.Is(err, ErrNotInState) || se.Found != StateCompleted || se.Op != "promote" ||
		err.Error() != "queue: promote job c1: the job is completed, not delayed" {
		t.Fatalf("Promote of a completed job: %v", err)
	}
	err = waiting.Retry(b.ctx, StateFailed, nil)
	if !errors.As(err, &se) || se.Found != StateWaiting || err.Error() != "queue: retry job "+waiting.ID+": the job is waiting, not failed" {
		t.Fatalf("Retry of a waiting job: %v", err)
	}
	if err := b.q.Remove(b.ctx, waiting.ID); err != nil {
		t.Fatal(err)
	}
	if err := waiting.Promote(b.ctx); !errors.Is(err, ErrJobNotFound) || errors.As(err, &se) {
		t.Fatalf("Promote of a removed job: %v", err)
	}

	var ne *NameError
	if _, err := NewQueue(b.client, "a:b", nil); !errors.As(err, &ne) || !errors.Is(err, ErrInvalidName) ||
		ne.Reason != `queue name "a:b" must not contain ':'` {
		t.Fatalf("NewQueue with ':' in the name: %v", err)
	}
}
