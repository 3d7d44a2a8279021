-- +goose Up
-- Audit heads (docs/design/events.md, "Audit"): where each home's chain
-- ended at its last append, with a MAC under the audit key of generation
-- key_gen. Removing a chain's newest entries, or all of them, leaves a
-- head naming entries that are gone. A chain written before this
-- migration gets its head at its next entry.
CREATE TABLE audit_heads (
    home_id TEXT COLLATE "C" PRIMARY KEY,
    seq     BIGINT NOT NULL,
    hash    BYTEA NOT NULL,
    key_gen BIGINT NOT NULL,
    mac     BYTEA NOT NULL
);
CREATE INDEX audit_heads_key_gen ON audit_heads(key_gen, home_id);

-- The master key generation (docs/design/keys.md) each audit entry's hash,
-- each account's email index and each invitation's were made under: values of several
-- generations live side by side during a rotation. 0: written before
-- this column (such an entry's hash does not cover its generation, and
-- it is verified with each audit key).
ALTER TABLE audit ADD COLUMN key_gen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN email_gen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invitations ADD COLUMN email_gen BIGINT NOT NULL DEFAULT 0;

-- A generation nothing but audit entries needs any more is retired
-- (camvault admin keys retire); the key file then keeps its audit key
-- alone, which audit_check identifies.
ALTER TABLE key_check ADD COLUMN retired BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE key_check ADD COLUMN audit_check BYTEA;

-- +goose Down
ALTER TABLE key_check DROP COLUMN audit_check;
ALTER TABLE key_check DROP COLUMN retired;
ALTER TABLE invitations DROP COLUMN email_gen;
ALTER TABLE accounts DROP COLUMN email_gen;
ALTER TABLE audit DROP COLUMN key_gen;
DROP TABLE audit_heads;
