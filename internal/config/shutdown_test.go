package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWorkerLocksAndShutdown(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Workers.LockDuration != 30*time.Second || c.Workers.StalledInterval != 30*time.Second ||
		c.Shutdown.Drain != 5*time.Second || c.Shutdown.Timeout != 10*time.Second {
		t.Errorf("defaults: workers %+v shutdown %+v", c.Workers, c.Shutdown)
	}
	for _, tt := range []struct {
		env                          map[string]string
		lock, stalled, drain, stopTO time.Duration
	}{
		{map[string]string{"WORKER_LOCK_DURATION": "10s"}, 10 * time.Second, 10 * time.Second, 5 * time.Second, 10 * time.Second},
		{map[string]string{"WORKER_LOCK_DURATION": "2m", "WORKER_STALLED_INTERVAL": "15"}, 2 * time.Minute, 15 * time.Second, 5 * time.Second, 10 * time.Second},
		{map[string]string{"WORKER_LOCK_DURATION": "5s", "WORKER_STALLED_INTERVAL": "5s", "SHUTDOWN_DRAIN": "0", "SHUTDOWN_TIMEOUT": "250ms"},
			5 * time.Second, 5 * time.Second, 0, 250 * time.Millisecond},
		{map[string]string{"SHUTDOWN_DRAIN": "0s", "SHUTDOWN_TIMEOUT": "1m30s"}, 30 * time.Second, 30 * time.Second, 0, 90 * time.Second},
	} {
		c, err := Load(env(tt.env))
		if err != nil {
			t.Errorf("%v: %v", tt.env, err)
			continue
		}
		if c.Workers.LockDuration != tt.lock || c.Workers.StalledInterval != tt.stalled || c.Shutdown.Drain != tt.drain || c.Shutdown.Timeout != tt.stopTO {
			t.Errorf("%v: workers %+v shutdown %+v", tt.env, c.Workers, c.Shutdown)
		}
	}

	for _, tt := range []struct {
		env          map[string]string
		varName, msg string
	}{
		{map[string]string{"WORKER_LOCK_DURATION": "0"}, "WORKER_LOCK_DURATION", "between 1s and 24h"},
		{map[string]string{"WORKER_LOCK_DURATION": "500ms"}, "WORKER_LOCK_DURATION", "between 1s and 24h"},
		{map[string]string{"WORKER_LOCK_DURATION": "forever"}, "WORKER_LOCK_DURATION", `got "forever"`},
		{map[string]string{"WORKER_STALLED_INTERVAL": "-1s"}, "WORKER_STALLED_INTERVAL", "between 1s and 24h"},
		{map[string]string{"WORKER_LOCK_DURATION": "10s", "WORKER_STALLED_INTERVAL": "1m"}, "WORKER_STALLED_INTERVAL", "must not exceed WORKER_LOCK_DURATION (10s)"},
		{map[string]string{"WORKER_STALLED_INTERVAL": "31s"}, "WORKER_STALLED_INTERVAL", "must not exceed WORKER_LOCK_DURATION (30s)"},
		{map[string]string{"SHUTDOWN_DRAIN": "-1s"}, "SHUTDOWN_DRAIN", "between 0s and 5m"},
		{map[string]string{"SHUTDOWN_DRAIN": "6m"}, "SHUTDOWN_DRAIN", "between 0s and 5m"},
		{map[string]string{"SHUTDOWN_DRAIN": "soon"}, "SHUTDOWN_DRAIN", "duration"},
		{map[string]string{"SHUTDOWN_TIMEOUT": "0"}, "SHUTDOWN_TIMEOUT", "between 100ms and 1h"},
		{map[string]string{"SHUTDOWN_TIMEOUT": "99999999999999999999"}, "SHUTDOWN_TIMEOUT", "duration"},
	} {
		_, err := Load(env(tt.env))
		var ve *VarError
		if !errors.As(err, &ve) || ve.Var != tt.varName || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%v: error %v, want %s containing %q", tt.env, err, tt.varName, tt.msg)
		}
	}
}
