package chain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/jobs/chain/anviltest"
	"github.com/zyeute/zyeute-redis/internal/store"
	"github.com/zyeute/zyeute-redis/internal/store/storetest"
	"github.com/zyeute/zyeute-redis/queue"
)

// scenario is the activity the tests put on a fresh anvil chain, and what
// the node reports about it.
type scenario struct {
	n                       *anviltest.Node
	wallet, other, third    string
	token                   string
	start, head             uint64
	want                    []string // "hash/logIndex from to token amount", sorted
	walletFees              *big.Int // gas the wallet paid
	walletStart, otherStart *big.Int
}

func eth(milli int64) *big.Int { return new(big.Int).Mul(big.NewInt(milli), big.NewInt(1e15)) }

func hexBig(v *big.Int) string { return "0x" + v.Text(16) }

func key(t store.Transfer) string {
	return fmt.Sprintf("%s/%d %s %s %s %s", t.TxHash, t.LogIndex, t.From, t.To, t.Token, t.Amount)
}

// setupChain sends ETH to and from the wallet, deploys the hand-written
// token and emits Transfer logs from, to and not involving the wallet,
// with empty blocks mined in between so the activity spans many batches.
func setupChain(t *testing.T) *scenario {
	n := anviltest.Start(t)

	accts := n.Accounts()
	s := &scenario{n: n, wallet: accts[1], other: accts[2], third: accts[3], start: n.Head(), walletFees: new(big.Int)}
	s.walletStart, s.otherStart = n.Balance(s.wallet, s.start), n.Balance(s.other, s.start)
	funder := accts[0]
	native := func(from, to string, v *big.Int) {
		h, r := n.Send(map[string]any{"from": from, "to": to, "value": hexBig(v)})
		if from == s.wallet {
			s.walletFees.Add(s.walletFees, r.Fee())
		}
		if from == s.wallet || to == s.wallet {
			s.want = append(s.want, key(store.Transfer{TxHash: h, LogIndex: -1, From: from, To: to, Amount: v.String()}))
		}
	}
	tokenCall := func(from, to string, v *big.Int) {
		_, r := n.Send(map[string]any{"from": from, "to": s.token, "data": anviltest.TransferData(to, v)})
		if from == s.wallet {
			s.walletFees.Add(s.walletFees, r.Fee())
		}
		if len(r.Logs) != 1 {
			t.Fatalf("token call emitted %d logs, want 1", len(r.Logs))
		}
		// What the node reports: the receipt's log, decoded independently.
		l := r.Logs[0]
		f, _ := addrFromTopic(l.Topics[1])
		to2, _ := addrFromTopic(l.Topics[2])
		amt, _ := new(big.Int).SetString(strings.TrimPrefix(l.Data, "0x"), 16)
		idx, _ := quantity(l.LogIndex)
		if amt.Cmp(v) != 0 || f != from || to2 != to || l.Topics[0] != TransferTopic {
			t.Fatalf("token log %+v does not say %s → %s %s", l, from, to, v)
		}
		if f == s.wallet || to2 == s.wallet {
			s.want = append(s.want, key(store.Transfer{TxHash: strings.ToLower(l.TxHash), LogIndex: int64(idx), From: f, To: to2,
				Token: strings.ToLower(l.Address), Amount: amt.String()}))
		}
	}
	n.Mine(150)
	native(funder, s.wallet, eth(1500))
	n.Mine(300)
	native(funder, s.wallet, eth(250))
	native(s.wallet, s.other, eth(700))
	_, r := n.Send(map[string]any{"from": funder, "data": anviltest.TokenInitCode})
	s.token = strings.ToLower(r.ContractAddress)
	n.Mine(200)
	tokenCall(funder, s.wallet, big.NewInt(1000))
	huge := new(big.Int).Lsh(big.NewInt(1), 200) // beyond uint64: decoded with math/big
	tokenCall(s.wallet, s.third, huge)
	tokenCall(funder, s.other, big.NewInt(5))    // not the wallet's
	tokenCall(s.wallet, s.wallet, big.NewInt(7)) // to itself: matches both log filters, stored once
	// ETH the wallet sends to a contract that reverts: mined, gas paid,
	// no value moved, so not a transfer.
	_, r = n.Send(map[string]any{"from": funder, "data": anviltest.RevertInitCode})
	h, rr := n.SendMined(map[string]any{"from": s.wallet, "to": r.ContractAddress, "value": hexBig(eth(300)), "gas": "0x30000"})
	if rr.Status != "0x0" {
		t.Fatalf("call to the reverting contract %s: status %q, want 0x0", h, rr.Status)
	}
	s.walletFees.Add(s.walletFees, rr.Fee())
	native(funder, s.third, eth(1000)) // not the wallet's
	n.Mine(1000)
	s.head = n.Head()
	sort.Strings(s.want)
	return s
}

func (s *scenario) syncer(st *store.Store) *Syncer {
	return &Syncer{Store: st, Endpoints: map[string]string{"ethereum": s.n.URL}}
}

func rows(t *testing.T, st *store.Store, wallet string) ([]string, []store.Transfer) {
	t.Helper()
	ts, err := st.Transfers(context.Background(), "ethereum", wallet)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(ts))
	for i, tr := range ts {
		out[i] = key(tr)
	}
	sort.Strings(out)
	return out, ts
}

// checkAgainstNode compares the stored rows with the node: the receipts'
// Transfer logs and native values, and the wallet's and the recipient's
// eth_getBalance deltas.
func (s *scenario) checkAgainstNode(t *testing.T, st *store.Store) {
	t.Helper()
	got, ts := rows(t, st, s.wallet)
	if strings.Join(got, "\n") != strings.Join(s.want, "\n") {
		t.Fatalf("stored transfers:\n%s\nthe node reports:\n%s", strings.Join(got, "\n"), strings.Join(s.want, "\n"))
	}
	in, out, toOther := new(big.Int), new(big.Int), new(big.Int)
	for _, tr := range ts {
		if tr.BlockNumber <= int64(s.start) || tr.BlockNumber > int64(s.head) || tr.BlockTime.IsZero() || tr.Wallet != s.wallet {
			t.Fatalf("transfer %+v: bad block, time or wallet", tr)
		}
		if tr.Token != "" {
			continue
		}
		v, _ := new(big.Int).SetString(tr.Amount, 10)
		if tr.To == s.wallet {
			in.Add(in, v)
		} else {
			out.Add(out, v)
		}
		if tr.To == s.other {
			toOther.Add(toOther, v)
		}
	}
	// wallet: end − start = in − out − gas paid.
	delta := new(big.Int).Sub(s.n.Balance(s.wallet, s.head), s.walletStart)
	want := new(big.Int).Sub(in, out)
	want.Sub(want, s.walletFees)
	if delta.Cmp(want) != 0 {
		t.Fatalf("wallet balance moved by %s wei; stored transfers say %s (in %s, out %s, gas %s)", delta, want, in, out, s.walletFees)
	}
	if d := new(big.Int).Sub(s.n.Balance(s.other, s.head), s.otherStart); d.Cmp(toOther) != 0 {
		t.Fatalf("recipient balance moved by %s wei; stored transfers to it say %s", d, toOther)
	}
}

type progressLog struct {
	mu sync.Mutex
	ps []Progress
}

func (p *progressLog) ctx(ctx context.Context, after func(Progress)) context.Context {
	return jobs.WithProgress(ctx, func(v any) {
		pr := v.(Progress)
		p.mu.Lock()
		p.ps = append(p.ps, pr)
		p.mu.Unlock()
		if after != nil {
			after(pr)
		}
	})
}

// A sync of the whole range stores exactly the wallet's transfers the node
// reports, reports progress per batch, moves the cursor to head+1; a second
// run of the same job leaves the same rows.
func TestSyncMatchesNodeAndIsIdempotent(t *testing.T) {
	s := setupChain(t)
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		sy := s.syncer(st)
		var pl progressLog
		job := &jobs.ChainSyncJob{Wallet: s.wallet, Chain: "ethereum", FromBlock: 0, ToBlock: s.head}
		began := time.Now()
		res, err := sy.Sync(pl.ctx(context.Background(), nil), job)
		took := time.Since(began)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: synced %d blocks (%d transfers) in %v: %.0f blocks/s", st.Backend(), res.Blocks, res.Transfers, took.Round(time.Millisecond),
			float64(res.Blocks)/took.Seconds())
		if !res.Synced || res.Syncer != "json-rpc" || res.Transfers != len(s.want) || res.Inserted != len(s.want) || res.ResumedFrom != nil {
			t.Fatalf("result %+v, want %d transfers synced", res, len(s.want))
		}
		nb := int(s.head/DefaultBatchBlocks + 1)
		if len(res.Batches) != nb || len(pl.ps) != nb || pl.ps[nb-1].Percent != 100 || pl.ps[nb-1].NextBlock != s.head+1 {
			t.Fatalf("%d batches, progress %+v; want %d batches ending at 100%%", len(res.Batches), pl.ps, nb)
		}
		s.checkAgainstNode(t, st)
		if next, ok, err := st.SyncCursor(context.Background(), "ethereum", s.wallet); err != nil || !ok || next != int64(s.head)+1 {
			t.Fatalf("cursor = %d %v %v, want %d", next, ok, err, s.head+1)
		}
		// At-least-once delivery: the same job again.
		again, err := sy.Sync(context.Background(), job)
		if err != nil {
			t.Fatal(err)
		}
		if again.Inserted != 0 || len(again.Batches) != 0 || again.ResumedFrom == nil || *again.ResumedFrom != s.head+1 {
			t.Fatalf("second run %+v: want nothing left to read", again)
		}
		// A job for an older sub-range (cursor outside it) re-reads it and
		// inserts nothing.
		sub, err := sy.Sync(context.Background(), &jobs.ChainSyncJob{Wallet: s.wallet, Chain: "ethereum", FromBlock: 100, ToBlock: 900})
		if err != nil {
			t.Fatal(err)
		}
		if sub.Inserted != 0 || sub.Transfers == 0 || sub.ResumedFrom != nil {
			t.Fatalf("sub-range re-run %+v: want its transfers read again, none inserted", sub)
		}
		s.checkAgainstNode(t, st)
		if next, _, _ := st.SyncCursor(context.Background(), "ethereum", s.wallet); next != int64(s.head)+1 {
			t.Fatalf("cursor moved back to %d", next)
		}
	})
}

// A job interrupted after five batches left its cursor there; the retry
// resumes from it and ends with the same rows as an uninterrupted sync.
func TestSyncResumesFromCursor(t *testing.T) {
	s := setupChain(t)
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		sy := s.syncer(st)
		sy.BatchBlocks = 100
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var pl progressLog
		job := &jobs.ChainSyncJob{Wallet: s.wallet, Chain: "ethereum", FromBlock: 0, ToBlock: s.head}
		_, err := sy.Sync(pl.ctx(ctx, func(p Progress) {
			if p.Batch == 5 {
				cancel() // the worker shuts down mid-job
			}
		}), job)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted sync: err = %v, want context.Canceled", err)
		}
		next, ok, err := st.SyncCursor(context.Background(), "ethereum", s.wallet)
		if err != nil || !ok || next != 500 {
			t.Fatalf("cursor after 3 batches = %d %v %v, want 500", next, ok, err)
		}
		first, _ := rows(t, st, s.wallet)
		res, err := sy.Sync(context.Background(), job)
		if err != nil {
			t.Fatal(err)
		}
		if res.ResumedFrom == nil || *res.ResumedFrom != 500 || res.Batches[0].From != 500 || res.Inserted != len(s.want)-len(first) {
			t.Fatalf("retry %+v: want it to resume at 500 and insert the %d missing rows", res, len(s.want)-len(first))
		}
		if len(first) == 0 || len(first) == len(s.want) {
			t.Fatalf("the first 500 blocks hold %d of %d transfers: the scenario should split them", len(first), len(s.want))
		}
		s.checkAgainstNode(t, st)
	})
}

// The job through the registry: payload validation (mixed-case wallet),
// the JSON result, and a chain without an endpoint keeping the local plan.
func TestSyncThroughRegistry(t *testing.T) {
	s := setupChain(t)
	st := storetest.OpenSQLite(t)
	reg, err := jobs.NewRegistry(&jobs.RegistryConfig{Handlers: jobs.Handlers{Chain: s.syncer(st)}})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := reg.Spec(jobs.BlockchainSync)
	if err != nil {
		t.Fatal(err)
	}
	out, err := spec.Run(context.Background(), json.RawMessage(fmt.Sprintf(`{"wallet":%q,"chain":"ethereum","from_block":0,"to_block":%d}`,
		s.wallet[:2]+strings.ToUpper(s.wallet[2:]), s.head)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	var res jobs.ChainSyncResult
	_ = json.Unmarshal(b, &res)
	if !res.Synced || res.Wallet != s.wallet || res.Transfers != len(s.want) {
		t.Fatalf("result %s", b)
	}
	s.checkAgainstNode(t, st)
	plan, err := spec.Run(context.Background(), json.RawMessage(`{"wallet":"`+s.wallet+`","chain":"polygon","from_block":0,"to_block":10}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := plan.(*jobs.ChainSyncResult); r.Synced || r.Syncer != "local-plan" {
		t.Fatalf("polygon without endpoint: %+v, want the local plan", r)
	}
}

// Failure modes: a range beyond the head, 429/5xx/timeouts/unreachable
// (retryable), other 4xx, JSON-RPC errors and malformed answers
// (unrecoverable, with a clear reason), never echoing the endpoint's key.
func TestSyncFailureModes(t *testing.T) {
	s := setupChain(t)
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	job := func(to uint64) *jobs.ChainSyncJob {
		return &jobs.ChainSyncJob{Wallet: s.wallet, Chain: "ethereum", FromBlock: 0, ToBlock: to}
	}
	_, err := s.syncer(st).Sync(ctx, job(s.head+10))
	if !errors.Is(err, queue.ErrUnrecoverable) || !strings.Contains(err.Error(), "beyond ethereum's head block") {
		t.Fatalf("range beyond the head: %v", err)
	}

	var mode string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		m := mode
		mu.Unlock()
		switch m {
		case "429":
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case "502":
			http.Error(w, "bad gateway", http.StatusBadGateway)
		case "401":
			http.Error(w, "bad key", http.StatusUnauthorized)
		case "garbage":
			_, _ = w.Write([]byte("<html>oops</html>"))
		case "badhead":
			_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":"twelve"}`))
		case "rpc-invalid":
			_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"invalid params"}}`))
		case "rpc-limit":
			_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"limit exceeded"}}`))
		case "slow":
			time.Sleep(500 * time.Millisecond)
		}
	}))
	defer srv.Close()
	const apiKey = "sEcReTaPiKeY123"
	for _, tc := range []struct {
		mode      string
		unrecover bool
		mentions  string
	}{
		{"429", false, "HTTP 429"},
		{"502", false, "HTTP 502"},
		{"slow", false, "timed out"},
		{"401", true, "HTTP 401"},
		{"garbage", true, "not a JSON-RPC response"},
		{"badhead", true, "not a block number"},
		{"rpc-invalid", true, "-32602"},
		{"rpc-limit", false, "-32005"},
	} {
		mu.Lock()
		mode = tc.mode
		mu.Unlock()
		sy := &Syncer{Store: st, Endpoints: map[string]string{"ethereum": srv.URL + "/v3/" + apiKey}, HTTP: &http.Client{Timeout: 200 * time.Millisecond}}
		_, err := sy.Sync(ctx, job(10))
		if err == nil || errors.Is(err, queue.ErrUnrecoverable) != tc.unrecover || !strings.Contains(err.Error(), tc.mentions) {
			t.Errorf("%s: err = %v; want unrecoverable=%v mentioning %q", tc.mode, err, tc.unrecover, tc.mentions)
		}
		if err != nil && strings.Contains(err.Error(), apiKey) {
			t.Errorf("%s: the error echoes the endpoint's API key: %v", tc.mode, err)
		}
	}
	srv.Close()
	sy := &Syncer{Store: st, Endpoints: map[string]string{"ethereum": srv.URL + "/v3/" + apiKey}}
	if _, err := sy.Sync(ctx, job(10)); err == nil || errors.Is(err, queue.ErrUnrecoverable) || strings.Contains(err.Error(), apiKey) {
		t.Fatalf("unreachable endpoint: %v, want a retryable error without the key", err)
	}
}
