-- +goose Up
-- Second factors (docs/design/second-factors.md). A TOTP secret is sealed
-- under the master key with the account in its associated data; recovery
-- codes are kept only as hashes; last_step is the last time step accepted,
-- so no code is accepted twice. confirmed: false until the person proved
-- the authenticator app has the secret.
CREATE TABLE totp (
    account_id    TEXT COLLATE "C" PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    secret_sealed BYTEA NOT NULL,
    confirmed     BOOLEAN NOT NULL DEFAULT false,
    last_step     BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    code_hash  BYTEA NOT NULL,
    PRIMARY KEY (account_id, code_hash)
);

-- WebAuthn credentials: the public key and what the authenticator said of
-- itself (credential, a JSON record), tied to their account; sign_count
-- only grows.
CREATE TABLE passkeys (
    id            TEXT COLLATE "C" PRIMARY KEY,
    account_id    TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    credential_id BYTEA NOT NULL UNIQUE,
    credential    BYTEA NOT NULL,
    sign_count    BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX passkeys_account ON passkeys(account_id);

-- WebAuthn ceremonies in progress: single use, short-lived, on any node.
-- account_id is '' for a passwordless login (nobody is known yet).
CREATE TABLE webauthn_challenges (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL,
    purpose    TEXT NOT NULL,
    data       BYTEA NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_challenges_expires ON webauthn_challenges(expires_at);

-- true: every member of the home needs a second factor to see its data.
ALTER TABLE homes ADD COLUMN require_second_factor BOOLEAN NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE homes DROP COLUMN require_second_factor;
DROP TABLE webauthn_challenges;
DROP TABLE passkeys;
DROP TABLE recovery_codes;
DROP TABLE totp;
