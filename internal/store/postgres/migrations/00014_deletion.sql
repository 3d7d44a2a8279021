-- +goose Up
-- Deleting an account (docs/design/deletion.md): the rows of the homes it
-- owned go in the deleting transaction, with their wrapped data keys; the
-- blobs they named are queued here in the same transaction and removed in
-- the background, resumably. not_before keeps a removal waiting (an export
-- still being written under the key).
CREATE TABLE blob_removals (
    key        TEXT COLLATE "C" PRIMARY KEY,
    queued_at  BIGINT NOT NULL,
    not_before BIGINT NOT NULL
);
CREATE INDEX blob_removals_due ON blob_removals(not_before);

-- A person's export of their data: a zip built in the background into one
-- sealed blob (blob_key), sealed under a key of its own kept only wrapped
-- (key_wrapped). home_id is '' for every home the person owns.
CREATE TABLE exports (
    id            TEXT COLLATE "C" PRIMARY KEY,
    account_id    TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    home_id       TEXT COLLATE "C" NOT NULL DEFAULT '',
    status        TEXT NOT NULL CHECK (status IN ('pending', 'running', 'ready', 'failed')),
    created_at    BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL DEFAULT 0,
    expires_at    BIGINT NOT NULL,
    blob_key      TEXT COLLATE "C" NOT NULL DEFAULT '',
    size          BIGINT NOT NULL DEFAULT 0,
    key_wrapped   BYTEA
);
CREATE INDEX exports_account ON exports(account_id);
-- one export pending or running per account, on every node at once
CREATE UNIQUE INDEX exports_one_busy ON exports(account_id) WHERE status IN ('pending', 'running');
CREATE INDEX exports_home ON exports(home_id);
CREATE INDEX exports_status ON exports(status, created_at);
CREATE INDEX exports_expires ON exports(expires_at);

-- +goose Down
DROP TABLE exports;
DROP TABLE blob_removals;
