package jobs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// gateSyncer blocks each sync until gate is closed (or its context ends).
type gateSyncer struct {
	started chan struct{}
	gate    chan struct{}
}

func (g gateSyncer) Sync(ctx context.Context, j *ChainSyncJob) (*ChainSyncResult, error) {
	g.started <- struct{}{}
	select {
	case <-g.gate:
		return &ChainSyncResult{Wallet: j.Wallet, Chain: j.Chain}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestInlineConcurrencyBounded: without Redis at most MaxInline jobs run
// in-process at once; one more is refused at once with 503 and
// Retry-After (never queued in memory, where a crash would lose it), and
// accepted again once a slot is free.
func TestInlineConcurrencyBounded(t *testing.T) {
	t.Parallel()
	g := gateSyncer{started: make(chan struct{}, 4), gate: make(chan struct{})}
	reg, err := NewRegistry(&RegistryConfig{Handlers: Handlers{Chain: g}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDispatcher(reg, nil, &DispatcherConfig{MaxInline: 2})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, r := range Routes(d, nil, nil) {
		mux.Handle(r.Pattern, r.Handler)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func() *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/api/jobs/blockchain-sync", strings.NewReader(`{"data":`+string(chainData(1))+`}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return nil
		}
		resp.Body.Close()
		return resp
	}
	done := make(chan int, 2)
	for range 2 {
		go func() {
			if r := post(); r != nil {
				done <- r.StatusCode
			} else {
				done <- 0
			}
		}()
	}
	for range 2 {
		select {
		case <-g.started:
		case <-time.After(10 * time.Second):
			t.Fatal("the two inline jobs did not start")
		}
	}
	r := post()
	if r == nil || r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("third job while two run inline: %+v, want 503 with Retry-After: 1", r)
	}
	close(g.gate)
	for range 2 {
		if s := <-done; s != http.StatusOK {
			t.Errorf("inline job answered %d, want 200", s)
		}
	}
	if r := post(); r == nil || r.StatusCode != http.StatusOK {
		t.Fatalf("after the slots freed: %+v, want 200", r)
	}
}
