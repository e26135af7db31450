package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Transfer is one wallet transfer: a native transfer (LogIndex −1) or an
// ERC-20 Transfer log. (Chain, TxHash, LogIndex, Wallet) is its key.
type Transfer struct {
	Chain       string
	TxHash      string
	LogIndex    int64
	Wallet      string
	BlockNumber int64
	From, To    string
	Token       string // contract address; "" for native
	Amount      string // decimal
	BlockTime   time.Time
}

// SaveTransfers stores the transfers of one batch and moves the wallet's
// cursor to nextBlock, in one transaction: a batch stored twice leaves
// the same rows, and the cursor never moves backwards.
func (s *Store) SaveTransfers(ctx context.Context, chain, wallet string, ts []Transfer, nextBlock int64) (inserted int, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		inserted = 0
		for _, t := range ts {
			r, err := tx.ExecContext(ctx, s.q(`INSERT INTO wallet_transfers (chain, tx_hash, log_index, wallet, block_number, from_addr, to_addr, token, amount, block_ms)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (chain, tx_hash, log_index, wallet) DO NOTHING`),
				t.Chain, t.TxHash, t.LogIndex, t.Wallet, t.BlockNumber, t.From, t.To, t.Token, t.Amount, ms(t.BlockTime))
			if err != nil {
				return fmt.Errorf("store: transfer %s/%d: %w", t.TxHash, t.LogIndex, err)
			}
			n, _ := r.RowsAffected()
			inserted += int(n)
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO sync_cursors (chain, wallet, next_block, updated_ms) VALUES (?, ?, ?, ?)
			ON CONFLICT (chain, wallet) DO UPDATE SET
				next_block = CASE WHEN excluded.next_block > sync_cursors.next_block THEN excluded.next_block ELSE sync_cursors.next_block END,
				updated_ms = excluded.updated_ms`), chain, wallet, nextBlock, ms(time.Now()))
		return err
	})
	return inserted, err
}

// SyncCursor returns the next block to sync for the wallet, or ok=false
// when it was never synced.
func (s *Store) SyncCursor(ctx context.Context, chain, wallet string) (next int64, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, s.q(`SELECT next_block FROM sync_cursors WHERE chain = ? AND wallet = ?`), chain, wallet).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return next, err == nil, err
}

// Transfers lists the wallet's stored transfers on the chain by block.
func (s *Store) Transfers(ctx context.Context, chain, wallet string) ([]Transfer, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT chain, tx_hash, log_index, wallet, block_number, from_addr, to_addr, token, amount, block_ms
		FROM wallet_transfers WHERE chain = ? AND wallet = ? ORDER BY block_number, tx_hash, log_index`), chain, wallet)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Transfer
	for rows.Next() {
		var t Transfer
		var bms int64
		if err := rows.Scan(&t.Chain, &t.TxHash, &t.LogIndex, &t.Wallet, &t.BlockNumber, &t.From, &t.To, &t.Token, &t.Amount, &bms); err != nil {
			return nil, err
		}
		t.BlockTime = fromMS(bms)
		out = append(out, t)
	}
	return out, rows.Err()
}
