package jobs

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// Limits of a blockchain-sync job.
const (
	MaxChainSyncBlocks = 1_000_000 // blocks per job
	ChainSyncBatch     = 10_000    // blocks per batch of the plan
	// MaxBlockNumber bounds from_block and to_block: 2^53 − 1, far above
	// any chain's height and the largest a JavaScript reader of the job
	// sees exactly.
	MaxBlockNumber = MaxSafeInteger
)

// ChainSyncJob is the payload of the blockchain-sync queue (KryptoTrac):
// sync one wallet's activity over a block range.
type ChainSyncJob struct {
	// Wallet address (required): 0x + 40 hex digits on EVM chains (stored
	// lower-case), bech32 (bc1…) or base58 on bitcoin, base58 on solana.
	Wallet string `json:"wallet"`
	// Chain is "ethereum", "polygon", "base", "bitcoin" or "solana" (required).
	Chain string `json:"chain"`
	// FromBlock and ToBlock, inclusive, each at most MaxBlockNumber;
	// ToBlock ≥ FromBlock and at most 1 000 000 blocks in all.
	FromBlock uint64 `json:"from_block"`
	ToBlock   uint64 `json:"to_block"`
}

// BlockRange is one batch of the sync, inclusive.
type BlockRange struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

// ChainSyncResult reports the sync (or, locally, its plan).
type ChainSyncResult struct {
	Wallet  string       `json:"wallet"`
	Chain   string       `json:"chain"`
	Blocks  uint64       `json:"blocks"`
	Batches []BlockRange `json:"batches"`
	// Synced is true only when a real chain client read the blocks.
	Synced bool `json:"synced"`
	// Transfers found (real syncers only).
	Transfers int `json:"transfers"`
	// Inserted is how many of Transfers were new rows (a re-run: 0).
	Inserted int `json:"inserted"`
	// ResumedFrom is the block a real syncer resumed at from the wallet's
	// cursor (absent when it started at from_block).
	ResumedFrom *uint64 `json:"resumed_from,omitempty"`
	// Syncer names the implementation ("local-plan", "json-rpc").
	Syncer string `json:"syncer"`
}

// ReportProgress reports v as the running job's progress (see
// WithProgress); without a reporter in ctx it does nothing.
func ReportProgress(ctx context.Context, v any) {
	if f := progressFrom(ctx); f != nil {
		f(v)
	}
}

// ChainSyncer does the work of a blockchain-sync job.
type ChainSyncer interface {
	Sync(ctx context.Context, job *ChainSyncJob) (*ChainSyncResult, error)
}

// LocalChainSyncer makes no network call: it validates the request and
// returns the batch plan (10 000 blocks per batch) with Synced false. A
// production deployment plugs in KryptoTrac's chain client (an RPC node or
// indexer) that reads each batch, records the wallet's transfers
// idempotently and sets Synced.
type LocalChainSyncer struct{}

// Sync implements ChainSyncer.
func (LocalChainSyncer) Sync(ctx context.Context, j *ChainSyncJob) (*ChainSyncResult, error) {
	batches, err := PlanBatches(ctx, j.FromBlock, j.ToBlock)
	if err != nil {
		return nil, err
	}
	return &ChainSyncResult{Wallet: j.Wallet, Chain: j.Chain, Blocks: j.ToBlock - j.FromBlock + 1, Batches: batches,
		Syncer: "local-plan"}, nil
}

// PlanBatches splits the inclusive range from..to into batches of
// ChainSyncBatch blocks. It refuses a reversed range or one larger than
// MaxChainSyncBlocks whatever validation let through, never overflows
// (to may be the largest uint64), and checks ctx at every batch.
func PlanBatches(ctx context.Context, from, to uint64) ([]BlockRange, error) {
	if to < from {
		return nil, fmt.Errorf("blockchain-sync: to_block %d is before from_block %d", to, from)
	}
	if to-from >= MaxChainSyncBlocks {
		return nil, fmt.Errorf("blockchain-sync: %d..%d is more than %d blocks", from, to, MaxChainSyncBlocks)
	}
	// Number of batches, computed without from+… (which can overflow).
	n := (to-from)/ChainSyncBatch + 1
	out := make([]BlockRange, 0, n)
	for i := uint64(0); i < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		lo := from + i*ChainSyncBatch // ≤ to: no overflow
		hi := to
		if to-lo >= ChainSyncBatch {
			hi = lo + ChainSyncBatch - 1
		}
		out = append(out, BlockRange{From: lo, To: hi})
	}
	return out, nil
}

var (
	evmAddr    = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)
	bech32Addr = regexp.MustCompile(`^bc1[02-9ac-hj-np-z]{11,71}$`)
	base58Addr = regexp.MustCompile(`^[1-9A-HJ-NP-Za-km-z]+$`)
)

func checkChain(j *ChainSyncJob) error {
	if err := oneOf("chain", j.Chain, "ethereum", "polygon", "base", "bitcoin", "solana"); err != nil {
		return err
	}
	if j.Wallet == "" {
		return fieldError("wallet", "is required")
	}
	ok := false
	switch j.Chain {
	case "ethereum", "polygon", "base":
		ok = evmAddr.MatchString(j.Wallet)
		j.Wallet = strings.ToLower(j.Wallet)
	case "bitcoin":
		ok = bech32Addr.MatchString(strings.ToLower(j.Wallet)) ||
			(len(j.Wallet) >= 26 && len(j.Wallet) <= 35 && (j.Wallet[0] == '1' || j.Wallet[0] == '3') && base58Addr.MatchString(j.Wallet))
	case "solana":
		ok = len(j.Wallet) >= 32 && len(j.Wallet) <= 44 && base58Addr.MatchString(j.Wallet)
	}
	if !ok {
		return fieldError("wallet", "is not a valid %s address", j.Chain)
	}
	if j.FromBlock > MaxBlockNumber {
		return fieldError("from_block", "must be at most %d", uint64(MaxBlockNumber))
	}
	if j.ToBlock > MaxBlockNumber {
		return fieldError("to_block", "must be at most %d", uint64(MaxBlockNumber))
	}
	if j.ToBlock < j.FromBlock {
		return fieldError("to_block", "must be at least from_block")
	}
	if j.ToBlock-j.FromBlock >= MaxChainSyncBlocks {
		return fieldError("to_block", "the range is larger than %d blocks: split it into several jobs", MaxChainSyncBlocks)
	}
	return nil
}

func chainSpec(s ChainSyncer) *Spec {
	return newSpec(BlockchainSync, "KryptoTrac: sync a wallet's on-chain activity over a block range", checkChain,
		func(ctx context.Context, j *ChainSyncJob) (any, error) { return s.Sync(ctx, j) })
}
