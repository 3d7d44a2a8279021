-- +goose Up
-- Second factors (docs/design/second-factors.md). A TOTP secret is sealed
-- under the master key with the account in its associated data; recovery
-- codes are kept only as hashes; last_step is the last time step accepted,
-- so no code is accepted twice. confirmed: 0 until the person proved the
-- authenticator app has the secret.
CREATE TABLE totp (
    account_id    TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    secret_sealed BLOB NOT NULL,
    confirmed     INTEGER NOT NULL DEFAULT 0,
    last_step     INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    code_hash  BLOB NOT NULL,
    PRIMARY KEY (account_id, code_hash)
) STRICT;

-- WebAuthn credentials: the public key and what the authenticator said of
-- itself (credential, a JSON record), tied to their account; sign_count
-- only grows.
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    credential_id BLOB NOT NULL UNIQUE,
    credential    BLOB NOT NULL,
    sign_count    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX passkeys_account ON passkeys(account_id);

-- WebAuthn ceremonies in progress: single use, short-lived, on any node.
-- account_id is '' for a passwordless login (nobody is known yet).
CREATE TABLE webauthn_challenges (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    data       BLOB NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX webauthn_challenges_expires ON webauthn_challenges(expires_at);

-- 1: every member of the home needs a second factor to see its data.
ALTER TABLE homes ADD COLUMN require_second_factor INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE homes DROP COLUMN require_second_factor;
DROP TABLE webauthn_challenges;
DROP TABLE passkeys;
DROP TABLE recovery_codes;
DROP TABLE totp;
