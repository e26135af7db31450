package queue

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zyeute/zyeute-redis/internal/redistest"
)

// bundle is what most queue tests need: a real Redis, a client, a queue
// with a name unique to the test.
type bundle struct {
	srv    *redistest.Server
	client *redis.Client
	q      *Queue
	name   string
	ctx    context.Context
}

func setup(t *testing.T) *bundle {
	t.Helper()
	srv := redistest.Start(t, nil)
	c := srv.Client(t)
	name := redistest.KeyPrefix(t)
	q, err := NewQueue(c, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return &bundle{srv: srv, client: c, q: q, name: name, ctx: ctx}
}

// waitFor polls cond every 10 ms until it is true or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
