-- KryptoTrac wallet activity (for the blockchain-sync queue). Block
-- numbers are BIGINT (≤ 2^63 − 1); amounts are decimal strings (uint256
-- does not fit any portable integer type).

-- +goose Up
CREATE TABLE wallet_transfers (
    chain         TEXT NOT NULL,
    tx_hash       TEXT NOT NULL,
    log_index     BIGINT NOT NULL,      -- -1 for a native transfer
    wallet        TEXT NOT NULL,        -- the synced wallet, lower-case
    block_number  BIGINT NOT NULL,
    from_addr     TEXT NOT NULL,
    to_addr       TEXT NOT NULL,
    token         TEXT NOT NULL DEFAULT '', -- ERC-20 contract; '' for native
    amount        TEXT NOT NULL,
    block_ms      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (chain, tx_hash, log_index, wallet)
);
CREATE INDEX wallet_transfers_wallet ON wallet_transfers (wallet, chain, block_number);

-- Where a wallet's sync got to: a retried or re-run job resumes after it.
CREATE TABLE sync_cursors (
    chain        TEXT NOT NULL,
    wallet       TEXT NOT NULL,
    next_block   BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL,
    PRIMARY KEY (chain, wallet)
);

-- +goose Down
DROP TABLE sync_cursors;
DROP TABLE wallet_transfers;
