package queue

import (
	"errors"
	"strings"
	"testing"
)

// An unknown state is refused with an error naming it, before any I/O.
func TestGettersRefuseUnknownState(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.q.GetJobCounts(b.ctx, StateWaiting, "bogus")
	if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), `"bogus"`) {
		t.Fatalf("GetJobCounts: %v", err)
	}
	if _, err := b.q.GetJobs(b.ctx, []JobState{"unknown"}, 0, -1, false); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("GetJobs: %v", err)
	}
}

// The legacy "0:…" marker at the wait list's tail is dropped by a count,
// as Node's getCounts drops it, and not counted.
func TestGetJobCountsDropsLegacyMarker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := b.q.Add(b.ctx, "a", nil, nil); err != nil {
		t.Fatal(err)
	}
	b.client.RPush(b.ctx, b.q.k.wait(), "0:1700000000000")
	c, err := b.q.GetJobCounts(b.ctx, StateWaiting)
	if err != nil || c[StateWaiting] != 1 {
		t.Fatalf("counts %v, %v", c, err)
	}
	if got := b.client.LRange(b.ctx, b.q.k.wait(), 0, -1).Val(); len(got) != 1 || got[0] != "1" {
		t.Fatalf("wait = %v", got)
	}
}
