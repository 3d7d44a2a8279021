-- +goose Up
-- The same tables as the SQLite schema: partners (smart displays, voice
-- assistants) linked with OAuth 2.0 (docs/design/partners.md). Client
-- secrets, codes and tokens are kept only as hashes.
CREATE TABLE partners (
    id           TEXT COLLATE "C" PRIMARY KEY,
    name         TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    secret_hash  BYTEA NOT NULL,
    disabled     BOOLEAN NOT NULL DEFAULT FALSE,
    version      BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);

-- An authorization request between /oauth2/authorize and the code's
-- exchange. scopes and devices are JSON arrays of strings.
CREATE TABLE partner_requests (
    id                    TEXT COLLATE "C" PRIMARY KEY,
    partner_id            TEXT COLLATE "C" NOT NULL REFERENCES partners(id) ON DELETE CASCADE,
    redirect_uri          TEXT NOT NULL,
    state                 TEXT NOT NULL,
    scopes                TEXT NOT NULL,
    code_challenge        TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL,
    account_id            TEXT COLLATE "C" REFERENCES accounts(id) ON DELETE CASCADE,
    devices               TEXT NOT NULL,
    live                  BOOLEAN NOT NULL DEFAULT FALSE,
    code_hash             BYTEA UNIQUE
);
CREATE INDEX partner_requests_expires ON partner_requests(expires_at);

CREATE TABLE partner_links (
    id         TEXT COLLATE "C" PRIMARY KEY,
    partner_id TEXT COLLATE "C" NOT NULL REFERENCES partners(id) ON DELETE CASCADE,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    live       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    UNIQUE (partner_id, account_id)
);
CREATE INDEX partner_links_account ON partner_links(account_id);

-- The cameras a person consented to; a camera removed leaves every link.
CREATE TABLE partner_link_devices (
    link_id   TEXT COLLATE "C" NOT NULL REFERENCES partner_links(id) ON DELETE CASCADE,
    device_id TEXT COLLATE "C" NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    PRIMARY KEY (link_id, device_id)
);
CREATE INDEX partner_link_devices_device ON partner_link_devices(device_id);

CREATE TABLE partner_tokens (
    token_hash BYTEA PRIMARY KEY,
    link_id    TEXT COLLATE "C" NOT NULL REFERENCES partner_links(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX partner_tokens_link ON partner_tokens(link_id);
CREATE INDEX partner_tokens_expires ON partner_tokens(expires_at);

-- +goose Down
DROP TABLE partner_tokens;
DROP TABLE partner_link_devices;
DROP TABLE partner_links;
DROP TABLE partner_requests;
DROP TABLE partners;
