package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// poisonChain is the blockchain-sync payload of issue 10: 615 blocks that
// end at the largest uint64, which made the batch loop overflow and
// allocate forever.
const poisonChain = `{"wallet":"0xAbCdEf0123456789abcdef0123456789ABCDEF01","chain":"ethereum",` +
	`"from_block":18446744073709551000,"to_block":18446744073709551615}`

// TestPoisonChainJobInline: the poison job through the dispatcher with no
// Redis (inline) and through the HTTP route is refused at validation,
// naming the field, and the local syncer handles the same range directly
// (no overflow, one batch). Before the fix the child process is killed by
// its heap guard.
func TestPoisonChainJobInline(t *testing.T) {
	t.Parallel()
	if !inChild(t) {
		return
	}
	reg, err := NewRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDispatcher(reg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = d.Enqueue(ctx, BlockchainSync, "", json.RawMessage(poisonChain), nil)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "from_block" || !strings.Contains(ve.Reason, "at most 9007199254740991") {
		t.Fatalf("poison job inline: %v (want a validation error on from_block)", err)
	}

	mux := http.NewServeMux()
	for _, r := range Routes(d, nil, nil) {
		mux.Handle(r.Pattern, r.Handler)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(body string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/api/jobs/blockchain-sync", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := post(`{"data":` + poisonChain + `}`); st != http.StatusBadRequest || !strings.Contains(body, "field from_block") {
		t.Errorf("POST poison: %d %s", st, body)
	}
	// to_block alone past the bound.
	if st, body := post(`{"data":{"wallet":"0xAbCdEf0123456789abcdef0123456789ABCDEF01","chain":"base","from_block":9007199254740990,"to_block":9007199254740992}}`); st != http.StatusBadRequest || !strings.Contains(body, "field to_block") {
		t.Errorf("POST to_block past 2^53-1: %d %s", st, body)
	}
	// The service still answers, and the largest allowed range end works.
	if st, body := post(`{"data":{"wallet":"0xAbCdEf0123456789abcdef0123456789ABCDEF01","chain":"base","from_block":9007199254730992,"to_block":9007199254740991}}`); st != http.StatusOK ||
		!strings.Contains(body, `"batches":[{"from":9007199254730992,"to":9007199254740991}]`) {
		t.Errorf("POST at the bound: %d %s", st, body)
	}

	// A custom caller that skips validation: the plan is still finite and
	// exact at the very top of uint64.
	res, err := LocalChainSyncer{}.Sync(ctx, &ChainSyncJob{Wallet: "w", Chain: "ethereum", FromBlock: 18446744073709551000, ToBlock: math.MaxUint64})
	if err != nil || res.Blocks != 616 || len(res.Batches) != 1 || res.Batches[0] != (BlockRange{From: 18446744073709551000, To: math.MaxUint64}) {
		t.Fatalf("Sync at the top of uint64: %+v, %v", res, err)
	}
	b, err := PlanBatches(ctx, math.MaxUint64-2*ChainSyncBatch-4, math.MaxUint64)
	if err != nil || len(b) != 3 || b[2].To != math.MaxUint64 || b[1].To+1 != b[2].From || b[2].From != math.MaxUint64-4 {
		t.Errorf("PlanBatches near the top: %v, %v", b, err)
	}
	if _, err := PlanBatches(ctx, 0, math.MaxUint64); err == nil {
		t.Error("PlanBatches accepted the whole uint64 range")
	}
	if _, err := PlanBatches(ctx, 5, 4); err == nil {
		t.Error("PlanBatches accepted a reversed range")
	}
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	if _, err := PlanBatches(cctx, 0, MaxChainSyncBlocks-1); !errors.Is(err, context.Canceled) {
		t.Errorf("PlanBatches with a cancelled context: %v", err)
	}
}

// TestPoisonChainJobQueued: the poison job already stored in Redis (added
// by an older producer, or by a client that skips validation) fails at
// once in the worker (no retry), and the worker goes on with the next
// job. Before the fix the child process is killed by its heap guard.
func TestPoisonChainJobQueued(t *testing.T) {
	t.Parallel()
	if !inChild(t) {
		return
	}
	b := setup(t)
	ctx := context.Background()
	q, err := queue.NewQueue(b.conn.Client(), BlockchainSync, &queue.QueueOptions{Prefix: b.prefix})
	if err != nil {
		t.Fatal(err)
	}
	poison, err := q.Add(ctx, "sync", json.RawMessage(poisonChain), DefaultAddOptions())
	if err != nil {
		t.Fatal(err)
	}
	good, err := q.Add(ctx, "sync", json.RawMessage(`{"wallet":"0xAbCdEf0123456789abcdef0123456789ABCDEF01","chain":"ethereum","from_block":1,"to_block":20000}`), DefaultAddOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer startPool(t, ctx, b.conn.Client(), b.reg, &PoolConfig{Queues: []string{BlockchainSync}, Prefix: b.prefix, Concurrency: 1})()
	waitFor(t, 20*time.Second, "poison failed and good completed", func() bool {
		p, _ := q.GetState(ctx, poison.ID)
		g, _ := q.GetState(ctx, good.ID)
		return p == queue.StateFailed && g == queue.StateCompleted
	})
	j, err := q.GetJob(ctx, poison.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j.AttemptsMade != 1 || !strings.Contains(j.FailedReason, "field from_block") {
		t.Errorf("poison job: attempts %d, reason %q", j.AttemptsMade, j.FailedReason)
	}
}
