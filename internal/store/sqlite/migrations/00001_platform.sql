-- +goose Up
-- Times are unix microseconds, UTC. Personal fields are sealed before they
-- arrive here; tokens and codes are stored only as hashes.
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    email_index   BLOB NOT NULL UNIQUE,
    email_sealed  BLOB NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash    BLOB NOT NULL UNIQUE,
    client_sealed BLOB,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE homes (
    id               TEXT PRIMARY KEY,
    name_sealed      BLOB NOT NULL,
    wrapped_data_key BLOB NOT NULL,
    retention_days   INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    grants_version   INTEGER NOT NULL
) STRICT;

CREATE TABLE members (
    home_id    TEXT NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    -- 1: the member sees only the cameras listed in member_devices
    limited    INTEGER NOT NULL DEFAULT 0,
    added_at   INTEGER NOT NULL,
    PRIMARY KEY (home_id, account_id)
) STRICT;
CREATE INDEX members_account ON members(account_id);

CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    home_id      TEXT NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
    name_sealed  BLOB,
    model        TEXT NOT NULL,
    firmware     TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL DEFAULT 0,
    online       INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX devices_home ON devices(home_id);

-- A viewer limited to some cameras has one row per camera here.
CREATE TABLE member_devices (
    home_id    TEXT NOT NULL,
    account_id TEXT NOT NULL,
    device_id  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    PRIMARY KEY (home_id, account_id, device_id),
    FOREIGN KEY (home_id, account_id) REFERENCES members(home_id, account_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX member_devices_device ON member_devices(device_id);

CREATE TABLE pairing_codes (
    code_hash  BLOB PRIMARY KEY,
    home_id    TEXT NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

CREATE TABLE throttle (
    key        BLOB PRIMARY KEY,
    count      INTEGER NOT NULL,
    window_end INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE throttle;
DROP TABLE pairing_codes;
DROP TABLE member_devices;
DROP TABLE devices;
DROP TABLE members;
DROP TABLE homes;
DROP TABLE sessions;
DROP TABLE accounts;
