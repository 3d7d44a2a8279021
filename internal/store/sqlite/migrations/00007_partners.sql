-- +goose Up
-- Partners (smart displays, voice assistants) linked with OAuth 2.0
-- (docs/design/partners.md). Client secrets, codes and tokens are kept only
-- as hashes.
CREATE TABLE partners (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    secret_hash  BLOB NOT NULL,
    disabled     INTEGER NOT NULL DEFAULT 0,
    version      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
) STRICT;

-- An authorization request between /oauth2/authorize and the code's
-- exchange. scopes and devices are JSON arrays of strings.
CREATE TABLE partner_requests (
    id                    TEXT PRIMARY KEY,
    partner_id            TEXT NOT NULL REFERENCES partners(id) ON DELETE CASCADE,
    redirect_uri          TEXT NOT NULL,
    state                 TEXT NOT NULL,
    scopes                TEXT NOT NULL,
    code_challenge        TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    account_id            TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    devices               TEXT NOT NULL,
    live                  INTEGER NOT NULL DEFAULT 0,
    code_hash             BLOB UNIQUE
) STRICT;
CREATE INDEX partner_requests_expires ON partner_requests(expires_at);

CREATE TABLE partner_links (
    id         TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    live       INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (partner_id, account_id)
) STRICT;
CREATE INDEX partner_links_account ON partner_links(account_id);

-- The cameras a person consented to; a camera removed leaves every link.
CREATE TABLE partner_link_devices (
    link_id   TEXT NOT NULL REFERENCES partner_links(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    PRIMARY KEY (link_id, device_id)
) STRICT;
CREATE INDEX partner_link_devices_device ON partner_link_devices(device_id);

CREATE TABLE partner_tokens (
    token_hash BLOB PRIMARY KEY,
    link_id    TEXT NOT NULL REFERENCES partner_links(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX partner_tokens_link ON partner_tokens(link_id);
CREATE INDEX partner_tokens_expires ON partner_tokens(expires_at);

-- +goose Down
DROP TABLE partner_tokens;
DROP TABLE partner_link_devices;
DROP TABLE partner_links;
DROP TABLE partner_requests;
DROP TABLE partners;
