package queue

import (
	"testing"
	"time"
)

// TestBackoffDelay checks the exported BullMQ backoff: exact without
// jitter, inside BullMQ's jitter range with it, refused for an unknown type.
func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		b    *Backoff
		made int
		want time.Duration
	}{
		{nil, 3, 0},
		{&Backoff{Type: "fixed", Delay: 700 * time.Millisecond}, 4, 700 * time.Millisecond},
		{&Backoff{Type: "exponential", Delay: time.Second}, 1, time.Second},
		{&Backoff{Type: "exponential", Delay: time.Second}, 3, 4 * time.Second},
	} {
		if got, ok := BackoffDelay(tt.b, tt.made); !ok || got != tt.want {
			t.Errorf("BackoffDelay(%+v, %d) = %s %v, want %s", tt.b, tt.made, got, ok, tt.want)
		}
	}
	// Jitter 0.5 on exponential 1 s, third attempt: uniform in [2 s, 4 s).
	b := &Backoff{Type: "exponential", Delay: time.Second, Jitter: 0.5}
	seen := map[time.Duration]bool{}
	for range 200 {
		got, ok := BackoffDelay(b, 3)
		if !ok || got < 2*time.Second || got >= 4*time.Second {
			t.Fatalf("jittered delay %s %v outside [2s, 4s)", got, ok)
		}
		seen[got] = true
	}
	if len(seen) < 10 {
		t.Errorf("jitter gave only %d distinct delays in 200 draws", len(seen))
	}
	if _, ok := BackoffDelay(&Backoff{Type: "linear", Delay: time.Second}, 1); ok {
		t.Error("unknown type accepted")
	}
}
