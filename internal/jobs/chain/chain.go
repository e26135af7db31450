// Package chain is the real blockchain-sync queue (KryptoTrac) for EVM
// chains: it reads a wallet's native transfers (eth_getBlockByNumber with
// full transactions, kept when the receipt says the transaction succeeded)
// and its ERC-20 Transfer logs (eth_getLogs, the wallet in topic1 or
// topic2) from a JSON-RPC endpoint per chain, batch by batch, and stores
// them in the application store with the wallet's cursor, so a retried or
// re-run job resumes where the last one stopped and leaves the same rows.
//
// It speaks plain JSON-RPC 2.0 over net/http with encoding/json: the only
// ABI decoding needed is one event with fixed topics and one uint256 data
// word (math/big), which does not justify go-ethereum's dependency tree.
package chain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/zyeute/zyeute-redis/internal/jobs"
	"github.com/zyeute/zyeute-redis/internal/store"
	"github.com/zyeute/zyeute-redis/queue"
)

// TransferTopic is topic0 of ERC-20's Transfer(address,address,uint256):
// keccak256 of that signature (a fixed, well-known constant).
const TransferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

// DefaultBatchBlocks is how many blocks one batch reads: one eth_getLogs
// range per direction and one JSON-RPC batch of eth_getBlockByNumber,
// within common providers' limits (eth_getLogs ranges of a few hundred to
// a few thousand blocks, JSON-RPC batches of 100 or more calls).
const DefaultBatchBlocks = 100

// maxResponse bounds one JSON-RPC answer (a batch of full blocks).
const maxResponse = 256 << 20

// Syncer implements jobs.ChainSyncer over JSON-RPC endpoints.
type Syncer struct {
	Store *store.Store
	// Endpoints maps a chain name to its JSON-RPC URL. A chain without an
	// endpoint (bitcoin, solana, or an EVM chain left unconfigured) goes to
	// Fallback.
	Endpoints map[string]string
	// Fallback syncs the other chains; nil: jobs.LocalChainSyncer (the plan).
	Fallback jobs.ChainSyncer
	// HTTP is the client; nil: one with a 30 s timeout per request.
	HTTP *http.Client
	// BatchBlocks is the number of blocks per batch; 0: DefaultBatchBlocks.
	BatchBlocks uint64
}

var _ jobs.ChainSyncer = (*Syncer)(nil)

// Progress is what a batch reports as the job's progress.
type Progress struct {
	Percent   int    `json:"percent"`
	Batch     int    `json:"batch"`
	Batches   int    `json:"batches"`
	NextBlock uint64 `json:"next_block"`
	Transfers int    `json:"transfers"`
}

// Sync implements jobs.ChainSyncer.
func (s *Syncer) Sync(ctx context.Context, j *jobs.ChainSyncJob) (*jobs.ChainSyncResult, error) {
	url := s.Endpoints[j.Chain]
	if url == "" {
		fb := s.Fallback
		if fb == nil {
			fb = jobs.LocalChainSyncer{}
		}
		return fb.Sync(ctx, j)
	}
	if j.ToBlock < j.FromBlock || j.ToBlock > jobs.MaxBlockNumber || j.ToBlock-j.FromBlock >= jobs.MaxChainSyncBlocks {
		return nil, queue.Unrecoverable(fmt.Errorf("blockchain-sync: invalid block range %d..%d", j.FromBlock, j.ToBlock))
	}
	wallet := strings.ToLower(j.Wallet)
	c := &client{url: url, chain: j.Chain, http: s.HTTP}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	head, err := c.blockNumber(ctx)
	if err != nil {
		return nil, err
	}
	if j.ToBlock > head {
		return nil, queue.Unrecoverable(fmt.Errorf("blockchain-sync: to_block %d is beyond %s's head block %d", j.ToBlock, j.Chain, head))
	}
	res := &jobs.ChainSyncResult{Wallet: wallet, Chain: j.Chain, Blocks: j.ToBlock - j.FromBlock + 1, Synced: true, Syncer: "json-rpc",
		Batches: []jobs.BlockRange{}}
	start := j.FromBlock
	// Resume from the cursor when it lies inside this range; a cursor
	// elsewhere (another range synced earlier) leaves the full range to
	// read (idempotent anyway; the cursor never moves backwards).
	if next, ok, err := s.Store.SyncCursor(ctx, j.Chain, wallet); err != nil {
		return nil, fmt.Errorf("blockchain-sync: reading the cursor: %w", err)
	} else if ok && next > 0 && uint64(next) > j.FromBlock && uint64(next) <= j.ToBlock+1 {
		start = uint64(next)
		r := start
		res.ResumedFrom = &r
	}
	size := s.BatchBlocks
	if size == 0 {
		size = DefaultBatchBlocks
	}
	if start > j.ToBlock {
		return res, nil // already synced to to_block
	}
	n := int((j.ToBlock-start)/size + 1)
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		lo := start + uint64(i)*size // ≤ ToBlock: no overflow
		hi := j.ToBlock
		if j.ToBlock-lo >= size {
			hi = lo + size - 1
		}
		ts, err := c.batch(ctx, wallet, lo, hi)
		if err != nil {
			return nil, err
		}
		ins, err := s.Store.SaveTransfers(ctx, j.Chain, wallet, ts, int64(hi)+1)
		if err != nil {
			return nil, fmt.Errorf("blockchain-sync: storing blocks %d..%d: %w", lo, hi, err)
		}
		res.Batches = append(res.Batches, jobs.BlockRange{From: lo, To: hi})
		res.Transfers += len(ts)
		res.Inserted += ins
		jobs.ReportProgress(ctx, Progress{Percent: (i + 1) * 100 / n, Batch: i + 1, Batches: n, NextBlock: hi + 1, Transfers: res.Transfers})
	}
	return res, nil
}

// client is one chain's JSON-RPC endpoint.
type client struct {
	url   string
	chain string
	http  *http.Client
}

type rpcRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      int    `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type rpcResponse struct {
	ID     *int            `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *rpcError       `json:"error"`
}

// ErrMalformed marks an answer the syncer cannot use (it fails the job
// at once: retrying would read the same).
var ErrMalformed = errors.New("malformed JSON-RPC answer")

func (c *client) malformed(method, format string, a ...any) error {
	return queue.Unrecoverable(fmt.Errorf("blockchain-sync: %s %s: %w: %s", c.chain, method, ErrMalformed, fmt.Sprintf(format, a...)))
}

// post sends body and returns the answer's bytes. Transport failures,
// timeouts, 429 and 5xx are retryable; another non-2xx status is not.
func (c *client) post(ctx context.Context, method string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		// The URL was validated at startup; never echo it (API keys).
		return nil, queue.Unrecoverable(fmt.Errorf("blockchain-sync: %s endpoint: invalid request", c.chain))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ne net.Error
		kind := "unreachable"
		if errors.As(err, &ne) && ne.Timeout() {
			kind = "timed out"
		}
		// The error of http.Client quotes the URL: keep it out.
		return nil, fmt.Errorf("blockchain-sync: %s %s: endpoint %s (will retry)", c.chain, method, kind)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("blockchain-sync: %s %s: reading the answer: connection lost (will retry)", c.chain, method)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		return nil, fmt.Errorf("blockchain-sync: %s %s: endpoint answered HTTP %d (will retry)", c.chain, method, resp.StatusCode)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, queue.Unrecoverable(fmt.Errorf("blockchain-sync: %s %s: endpoint refused the request with HTTP %d (check CHAIN_RPC_%s and its API key)",
			c.chain, method, resp.StatusCode, strings.ToUpper(c.chain)))
	}
	if len(b) > maxResponse {
		return nil, c.malformed(method, "answer larger than %d bytes (lower the batch size)", maxResponse)
	}
	return b, nil
}

// rpcErr turns a JSON-RPC error object into the job's error: the codes
// providers use for rate limits and transient trouble (-32005 limit
// exceeded, -32603 internal, -32000 server error with "rate"/"timeout"/
// "limit" in the text) are retryable, the others (invalid params, method
// not found, …) are not.
func (c *client) rpcErr(method string, e *rpcError) error {
	msg := e.Message
	if len(msg) > 200 {
		msg = msg[:200]
	}
	low := strings.ToLower(msg)
	if e.Code == -32005 || e.Code == -32603 || (e.Code == -32000 && (strings.Contains(low, "rate") || strings.Contains(low, "timeout") || strings.Contains(low, "limit"))) {
		return fmt.Errorf("blockchain-sync: %s %s: JSON-RPC error %d: %s (will retry)", c.chain, method, e.Code, msg)
	}
	return queue.Unrecoverable(fmt.Errorf("blockchain-sync: %s %s: JSON-RPC error %d: %s", c.chain, method, e.Code, msg))
}

// call makes one JSON-RPC call and decodes its result into out.
func (c *client) call(ctx context.Context, out any, method string, params ...any) error {
	if params == nil {
		params = []any{}
	}
	body, _ := json.Marshal(rpcRequest{JSONRPC: "2.0", ID: 1, Method: method, Params: params})
	b, err := c.post(ctx, method, body)
	if err != nil {
		return err
	}
	var r rpcResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return c.malformed(method, "not a JSON-RPC response")
	}
	if r.Error != nil {
		return c.rpcErr(method, r.Error)
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		return c.malformed(method, "unexpected result: %v", err)
	}
	return nil
}

// callBatch makes one JSON-RPC batch: params[i] for call i, results
// decoded into outs[i] by the answers' ids.
func (c *client) callBatch(ctx context.Context, method string, params [][]any, outs []any) error {
	reqs := make([]rpcRequest, len(params))
	for i, p := range params {
		reqs[i] = rpcRequest{JSONRPC: "2.0", ID: i, Method: method, Params: p}
	}
	body, _ := json.Marshal(reqs)
	b, err := c.post(ctx, method, body)
	if err != nil {
		return err
	}
	var rs []rpcResponse
	if err := json.Unmarshal(b, &rs); err != nil {
		// A single error object answers a batch the endpoint refused.
		var one rpcResponse
		if json.Unmarshal(b, &one) == nil && one.Error != nil {
			return c.rpcErr(method, one.Error)
		}
		return c.malformed(method, "not a JSON-RPC batch response")
	}
	seen := make([]bool, len(params))
	for _, r := range rs {
		if r.ID == nil || *r.ID < 0 || *r.ID >= len(params) || seen[*r.ID] {
			return c.malformed(method, "batch answer with a missing, unknown or repeated id")
		}
		if r.Error != nil {
			return c.rpcErr(method, r.Error)
		}
		seen[*r.ID] = true
		if err := json.Unmarshal(r.Result, outs[*r.ID]); err != nil {
			return c.malformed(method, "unexpected result: %v", err)
		}
	}
	for _, ok := range seen {
		if !ok {
			return c.malformed(method, "batch answer misses calls (%d of %d)", len(rs), len(params))
		}
	}
	return nil
}

func hexNum(n uint64) string { return "0x" + strconv.FormatUint(n, 16) }

// quantity parses a JSON-RPC QUANTITY ("0x1a") as a uint64.
func quantity(s string) (uint64, bool) {
	if !strings.HasPrefix(s, "0x") || len(s) < 3 || len(s) > 18 {
		return 0, false
	}
	n, err := strconv.ParseUint(s[2:], 16, 64)
	return n, err == nil
}

// bigQuantity parses a QUANTITY of any size (a wei value) as decimal.
func bigQuantity(s string) (string, bool) {
	if !strings.HasPrefix(s, "0x") || len(s) < 3 || len(s) > 66 {
		return "", false
	}
	v, ok := new(big.Int).SetString(s[2:], 16)
	if !ok {
		return "", false
	}
	return v.String(), true
}

func (c *client) blockNumber(ctx context.Context) (uint64, error) {
	var s string
	if err := c.call(ctx, &s, "eth_blockNumber"); err != nil {
		return 0, err
	}
	n, ok := quantity(s)
	if !ok {
		return 0, c.malformed("eth_blockNumber", "head %q is not a block number", truncate(s))
	}
	return n, nil
}

type rpcTx struct {
	Hash  string  `json:"hash"`
	From  string  `json:"from"`
	To    *string `json:"to"`
	Value string  `json:"value"`
}

type rpcBlock struct {
	Number       string  `json:"number"`
	Timestamp    string  `json:"timestamp"`
	Transactions []rpcTx `json:"transactions"`
}

type rpcLog struct {
	Address     string   `json:"address"`
	Topics      []string `json:"topics"`
	Data        string   `json:"data"`
	BlockNumber string   `json:"blockNumber"`
	TxHash      string   `json:"transactionHash"`
	LogIndex    string   `json:"logIndex"`
	Removed     bool     `json:"removed"`
}

type rpcReceipt struct {
	Status string `json:"status"`
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// topicAddr is an address as a 32-byte topic.
func topicAddr(a string) string { return "0x" + strings.Repeat("0", 24) + strings.TrimPrefix(a, "0x") }

// addrFromTopic is the address in a 32-byte topic, or false.
func addrFromTopic(t string) (string, bool) {
	t = strings.ToLower(t)
	if len(t) != 66 || !strings.HasPrefix(t, "0x") || t[2:26] != strings.Repeat("0", 24) {
		return "", false
	}
	return "0x" + t[26:], true
}

// batch reads the wallet's transfers in blocks lo..hi.
func (c *client) batch(ctx context.Context, wallet string, lo, hi uint64) ([]store.Transfer, error) {
	// Blocks, with full transactions: native transfers and timestamps.
	nb := int(hi - lo + 1)
	params := make([][]any, nb)
	blocks := make([]*rpcBlock, nb)
	outs := make([]any, nb)
	for i := range params {
		params[i] = []any{hexNum(lo + uint64(i)), true}
		outs[i] = &blocks[i]
	}
	if err := c.callBatch(ctx, "eth_getBlockByNumber", params, outs); err != nil {
		return nil, err
	}
	times := map[uint64]time.Time{}
	var out []store.Transfer
	var native []store.Transfer
	for i, b := range blocks {
		want := lo + uint64(i)
		if b == nil {
			return nil, fmt.Errorf("blockchain-sync: %s block %d is not available yet (will retry)", c.chain, want)
		}
		num, ok := quantity(b.Number)
		ts, ok2 := quantity(b.Timestamp)
		if !ok || !ok2 || num != want {
			return nil, c.malformed("eth_getBlockByNumber", "block %d has number %q and timestamp %q", want, truncate(b.Number), truncate(b.Timestamp))
		}
		times[num] = time.Unix(int64(ts), 0).UTC()
		for _, tx := range b.Transactions {
			from := strings.ToLower(tx.From)
			to := ""
			if tx.To != nil {
				to = strings.ToLower(*tx.To)
			}
			if from != wallet && to != wallet {
				continue
			}
			amount, ok := bigQuantity(tx.Value)
			if !ok || len(tx.Hash) != 66 {
				return nil, c.malformed("eth_getBlockByNumber", "transaction %q in block %d has value %q", truncate(tx.Hash), num, truncate(tx.Value))
			}
			if amount == "0" {
				continue // a call, not a transfer
			}
			native = append(native, store.Transfer{Chain: c.chain, TxHash: strings.ToLower(tx.Hash), LogIndex: -1, Wallet: wallet,
				BlockNumber: int64(num), From: from, To: to, Amount: amount, BlockTime: times[num]})
		}
	}
	// Keep native transfers whose transaction succeeded (a reverted one
	// moved no value).
	if len(native) > 0 {
		rp := make([][]any, len(native))
		receipts := make([]*rpcReceipt, len(native))
		routs := make([]any, len(native))
		for i, t := range native {
			rp[i] = []any{t.TxHash}
			routs[i] = &receipts[i]
		}
		if err := c.callBatch(ctx, "eth_getTransactionReceipt", rp, routs); err != nil {
			return nil, err
		}
		for i, t := range native {
			if receipts[i] == nil {
				// A load-balanced provider's node may lag the one that
				// served the block.
				return nil, fmt.Errorf("blockchain-sync: %s receipt of %s is not available yet (will retry)", c.chain, t.TxHash)
			}
			if receipts[i].Status == "0x1" {
				out = append(out, t)
			}
		}
	}
	// ERC-20 Transfer logs from and to the wallet.
	w := topicAddr(wallet)
	seen := map[string]bool{}
	for _, topics := range [][]any{{TransferTopic, w}, {TransferTopic, nil, w}} {
		var logs []rpcLog
		filter := map[string]any{"fromBlock": hexNum(lo), "toBlock": hexNum(hi), "topics": topics}
		if err := c.call(ctx, &logs, "eth_getLogs", filter); err != nil {
			return nil, err
		}
		for _, l := range logs {
			if l.Removed {
				continue
			}
			// ERC-721 shares the signature with a 4th topic (token id) and
			// no data: not an ERC-20 transfer.
			if len(l.Topics) != 3 {
				continue
			}
			from, ok1 := addrFromTopic(l.Topics[1])
			to, ok2 := addrFromTopic(l.Topics[2])
			num, ok3 := quantity(l.BlockNumber)
			idx, ok4 := quantity(l.LogIndex)
			if !ok1 || !ok2 || !ok3 || !ok4 || len(l.TxHash) != 66 || len(l.Address) != 42 || num < lo || num > hi || idx > 1<<53 {
				return nil, c.malformed("eth_getLogs", "Transfer log %q/%q in block %q", truncate(l.TxHash), truncate(l.LogIndex), truncate(l.BlockNumber))
			}
			if len(l.Data) != 66 {
				continue // not a single uint256 value: not ERC-20
			}
			amount, ok := bigQuantity(l.Data)
			if !ok {
				return nil, c.malformed("eth_getLogs", "Transfer log %s/%d has data %q", l.TxHash, idx, truncate(l.Data))
			}
			key := strings.ToLower(l.TxHash) + "/" + strconv.FormatUint(idx, 10)
			if seen[key] { // a transfer to oneself matches both filters
				continue
			}
			seen[key] = true
			out = append(out, store.Transfer{Chain: c.chain, TxHash: strings.ToLower(l.TxHash), LogIndex: int64(idx), Wallet: wallet,
				BlockNumber: int64(num), From: from, To: to, Token: strings.ToLower(l.Address), Amount: amount, BlockTime: times[num]})
		}
	}
	return out, nil
}
