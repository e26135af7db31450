package jobs

import (
	"errors"
	"fmt"
	"testing"
)

// TestClientMessage: the typed errors keep errors.Is working and give a
// client message without the package prefix, even when wrapped; other
// errors give "".
func TestClientMessage(t *testing.T) {
	t.Parallel()
	reg, err := NewRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, unknown := reg.Spec("transcode")
	for _, tt := range []struct {
		err      error
		sentinel error
		want     string
	}{
		{fmt.Errorf("wrapped: %w", unknown), ErrUnknownQueue, `unknown queue "transcode" (known: analytics, blockchain-sync, memory-mining, privacy-audit, video-enhancement)`},
		{redisUnavailable(nil), ErrRedisUnavailable, "Redis unavailable: not configured (degraded mode: jobs run synchronously and are not stored)"},
		{ErrInlineBusy, ErrInlineBusy, "Redis is unavailable and the in-process job runner is busy; retry in a moment"},
		{errors.New("jobs: something else"), nil, ""},
	} {
		if got := ClientMessage(tt.err); got != tt.want {
			t.Errorf("ClientMessage(%v) = %q, want %q", tt.err, got, tt.want)
		}
		if tt.sentinel != nil && (!errors.Is(tt.err, tt.sentinel) || tt.err.Error() == ClientMessage(tt.err)) {
			t.Errorf("%v: errors.Is %v, Error() %q", tt.err, errors.Is(tt.err, tt.sentinel), tt.err.Error())
		}
	}
}
