package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/testlog"
	"github.com/zyeute/zyeute-redis/queue"
)

// misbehavingSyncer misbehaves by from_block: 1 panics, 2 ignores its
// context (blocks until the test ends), 3 honours its context but never
// finishes on its own; anything else is the local plan.
type misbehavingSyncer struct{ release chan struct{} }

func (m misbehavingSyncer) Sync(ctx context.Context, j *ChainSyncJob) (*ChainSyncResult, error) {
	switch j.FromBlock {
	case 1:
		var p *ChainSyncJob
		return &ChainSyncResult{Wallet: p.Wallet}, nil // nil dereference: a runtime panic
	case 2:
		<-m.release
		return nil, errors.New("released")
	case 3:
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return LocalChainSyncer{}.Sync(ctx, j)
}

func chainData(from int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"wallet":"0xAbCdEf0123456789abcdef0123456789ABCDEF01","chain":"ethereum","from_block":%d,"to_block":%d}`, from, from+10))
}

func misbehavingRegistry(t *testing.T) *Registry {
	t.Helper()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	reg, err := NewRegistry(&RegistryConfig{Handlers: Handlers{Chain: misbehavingSyncer{release: release}},
		Timeouts: map[string]time.Duration{BlockchainSync: time.Second}, AbandonAfter: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestHandlerBudgetInline: in degraded (inline) mode a handler that runs
// past its queue's budget, ignores its context or panics fails only its
// own job with a clear error; the HTTP request gets 504/500 (no stack
// trace) and the service goes on answering.
func TestHandlerBudgetInline(t *testing.T) {
	t.Parallel()
	reg := misbehavingRegistry(t)
	lg, logs := testlog.New()
	d, err := NewDispatcher(reg, nil, &DispatcherConfig{Logger: lg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	enqueue := func(from, attempts int) (*JobFailedError, error) {
		type out struct {
			jf  *JobFailedError
			err error
		}
		ch := make(chan out, 1)
		go func() {
			_, err := d.Enqueue(ctx, BlockchainSync, "", chainData(from), &EnqueueOptions{Attempts: attempts})
			var jf *JobFailedError
			errors.As(err, &jf)
			ch <- out{jf, err}
		}()
		select {
		case o := <-ch:
			return o.jf, o.err
		case <-time.After(20 * time.Second):
			t.Fatalf("from_block %d: Enqueue did not return within 20s: the handler is not bounded", from)
			return nil, nil
		}
	}

	// Honours its context: times out, retried per attempts.
	jf, err := enqueue(3, 2)
	var te *TimeoutError
	if jf == nil || jf.Attempts != 2 || !errors.Is(err, ErrJobTimeout) || !errors.Is(err, context.DeadlineExceeded) ||
		!errors.As(err, &te) || te.Abandoned || te.Budget != time.Second ||
		!strings.Contains(err.Error(), "blockchain-sync: job exceeded its time budget of 1s") {
		t.Errorf("slow handler: %v", err)
	}
	// Ignores its context: abandoned, failed for good after one attempt.
	jf, err = enqueue(2, 3)
	if jf == nil || jf.Attempts != 1 || !errors.As(err, &te) || !te.Abandoned || !strings.Contains(err.Error(), "did not stop") {
		t.Errorf("stuck handler: %v", err)
	}
	if reg.Abandoned() != 1 {
		t.Errorf("Abandoned() = %d", reg.Abandoned())
	}
	// Panics: failed for good after one attempt, no stack in the message.
	jf, err = enqueue(1, 3)
	var pe *PanicError
	if jf == nil || jf.Attempts != 1 || !errors.Is(err, ErrHandlerPanic) || !errors.As(err, &pe) ||
		!strings.Contains(pe.Value, "nil pointer dereference") || !strings.Contains(pe.Stack, "misbehavingSyncer") ||
		strings.Contains(err.Error(), "goroutine ") {
		t.Errorf("panicking handler: %v", err)
	}
	// The stack is in the log (only there).
	if l := logs.String(); !strings.Contains(l, "handler panicked; the job failed") || !strings.Contains(l, "misbehavingSyncer") ||
		!strings.Contains(l, "handler ignored its context and was abandoned") || !strings.Contains(l, "abandoned_total=1") {
		t.Errorf("log:\n%s", l)
	}

	mux := http.NewServeMux()
	for _, r := range Routes(d, nil, nil) {
		mux.Handle(r.Pattern, r.Handler)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(from int) (int, string) {
		body := `{"data":` + string(chainData(from)) + `,"opts":{"attempts":1}}`
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/api/jobs/blockchain-sync", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("from_block %d: no HTTP answer: %v", from, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tt := range []struct {
		from     int
		status   int
		contains string
	}{
		{1, http.StatusInternalServerError, "handler panicked"},
		{3, http.StatusGatewayTimeout, "time budget of 1s"},
		{2, http.StatusGatewayTimeout, "did not stop"},
		{100, http.StatusOK, `"mode":"sync"`},
	} {
		st, body := post(tt.from)
		if st != tt.status || !strings.Contains(body, tt.contains) || strings.Contains(body, "goroutine ") {
			t.Errorf("POST from_block %d: %d %s (want %d containing %q, no stack)", tt.from, st, body, tt.status, tt.contains)
		}
	}
}

// TestHandlerBudgetQueued: with workers, the same three handlers fail
// only their own job (panic and stuck: at once; slow: after its attempts)
// and the worker (concurrency 1) goes on to complete the next job.
func TestHandlerBudgetQueued(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reg := misbehavingRegistry(t)
	ctx := context.Background()
	d, err := NewDispatcher(reg, b.conn, &DispatcherConfig{Prefix: b.prefix})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int]string{}
	for _, from := range []int{1, 2, 3, 100} {
		res, err := d.Enqueue(ctx, BlockchainSync, "", chainData(from), &EnqueueOptions{Attempts: 2})
		if err != nil || res.Mode != ModeQueued {
			t.Fatalf("enqueue %d: %+v %v", from, res, err)
		}
		ids[from] = res.ID
	}
	lg, logs := testlog.New()
	defer startPool(t, ctx, b.conn.Client(), reg, &PoolConfig{Queues: []string{BlockchainSync}, Prefix: b.prefix, Concurrency: 1, Logger: lg})()
	infos := map[int]*JobInfo{}
	waitFor(t, 30*time.Second, "all four jobs finished", func() bool {
		for from, id := range ids {
			info, err := d.Job(ctx, BlockchainSync, id)
			if err != nil || info.State != "failed" && info.State != "completed" {
				return false
			}
			infos[from] = info
		}
		return true
	})
	for _, tt := range []struct {
		from     int
		state    string
		attempts int
		reason   string
	}{
		{1, "failed", 1, "handler panicked: runtime error: invalid memory address or nil pointer dereference"},
		{2, "failed", 1, "did not stop (abandoned)"},
		{3, "failed", 2, "job exceeded its time budget of 1s"},
		{100, "completed", 1, ""},
	} {
		i := infos[tt.from]
		if i.State != tt.state || i.AttemptsMade != tt.attempts || !strings.Contains(i.FailedReason, tt.reason) {
			t.Errorf("from_block %d: state %s, attempts %d, reason %q (want %s, %d, %q)", tt.from, i.State, i.AttemptsMade, i.FailedReason, tt.state, tt.attempts, tt.reason)
		}
	}
	if reg.Abandoned() != 1 {
		t.Errorf("Abandoned() = %d", reg.Abandoned())
	}
	if l := logs.String(); !strings.Contains(l, `handler panicked; the job failed" queue=blockchain-sync job=`+ids[1]+" ") ||
		!strings.Contains(l, "misbehavingSyncer") || !strings.Contains(l, "abandoned; the job failed") {
		t.Errorf("log:\n%s", l)
	}
}

func TestTimeoutsConfig(t *testing.T) {
	t.Parallel()
	m, err := ParseTimeouts(" video-enhancement=45m , analytics=30s,")
	if err != nil || len(m) != 2 || m[VideoEnhancement] != 45*time.Minute || m[Analytics] != 30*time.Second {
		t.Fatalf("ParseTimeouts = %v, %v", m, err)
	}
	if m, err := ParseTimeouts(""); err != nil || len(m) != 0 {
		t.Errorf("ParseTimeouts(\"\") = %v, %v", m, err)
	}
	for in, want := range map[string]string{
		"analytics":            "queue=duration",
		"analytics=soon":       `analytics: "soon" is not a duration`,
		"transcode=1m":         `unknown queue "transcode"`,
		"analytics=0s":         "outside 1ms..24h0m0s",
		"privacy-audit=25h":    "outside 1ms..24h0m0s",
		"memory-mining=-1m":    "outside",
		"=1m":                  "queue=duration",
		"blockchain-sync=1m=2": "not a duration",
	} {
		if _, err := ParseTimeouts(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTimeouts(%q) = %v (want %q)", in, err, want)
		}
	}
	reg, err := NewRegistry(&RegistryConfig{Timeouts: m})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]time.Duration{VideoEnhancement: 45 * time.Minute, Analytics: 30 * time.Second,
		BlockchainSync: DefaultTimeouts[BlockchainSync], PrivacyAudit: 5 * time.Minute} {
		if s, _ := reg.Spec(name); s.Timeout() != want {
			t.Errorf("%s timeout = %s, want %s", name, s.Timeout(), want)
		}
	}
	if _, err := NewRegistry(&RegistryConfig{Timeouts: map[string]time.Duration{"nope": time.Second}}); !errors.Is(err, ErrUnknownQueue) {
		t.Errorf("unknown queue in Timeouts: %v", err)
	}
	if _, err := NewRegistry(&RegistryConfig{AbandonAfter: -time.Second}); err == nil {
		t.Error("negative AbandonAfter accepted")
	}
	// The worker's handler marks panics and abandoned runs unrecoverable.
	h, _ := misbehavingRegistry(t).Handler(BlockchainSync)
	if _, err := h(context.Background(), &queue.Job{Data: chainData(1)}); !errors.Is(err, queue.ErrUnrecoverable) || !errors.Is(err, ErrHandlerPanic) {
		t.Errorf("worker handler, panic: %v", err)
	}
}
