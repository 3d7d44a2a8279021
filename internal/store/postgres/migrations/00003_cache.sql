-- +goose Up
-- An account's part of its grant version: moved by every logout, so a
-- cached grant computed before it is never used again (invariant 3). A
-- grant version is homes.grants_version + accounts.grants_version; both only
-- ever grow, so their sum changes whenever either does.
ALTER TABLE accounts ADD COLUMN grants_version BIGINT NOT NULL DEFAULT 0;

-- The cache breaker, shared by every node using this store.
CREATE TABLE breaker (
    name       TEXT COLLATE "C" PRIMARY KEY,
    open       BOOLEAN NOT NULL,
    reason     TEXT NOT NULL,
    changed_at BIGINT NOT NULL,
    trips      BIGINT NOT NULL
);

-- +goose Down
DROP TABLE breaker;
ALTER TABLE accounts DROP COLUMN grants_version;
