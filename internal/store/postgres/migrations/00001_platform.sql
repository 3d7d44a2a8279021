-- +goose Up
-- The same tables as the SQLite schema. Times are unix microseconds, UTC, in
-- BIGINT: PostgreSQL's timestamptz rounds nanoseconds to the nearest
-- microsecond where every other part of camvault truncates, and integers keep
-- retention arithmetic and cursors identical on both backends. Personal
-- fields are sealed before they arrive here; tokens and codes are stored only
-- as hashes. Text columns compare bytewise (COLLATE "C"), as in SQLite,
-- whatever the database's locale: identifiers order and page the same way
-- on both backends.
CREATE TABLE accounts (
    id            TEXT COLLATE "C" PRIMARY KEY,
    email_index   BYTEA NOT NULL UNIQUE,
    email_sealed  BYTEA NOT NULL,
    password_hash TEXT COLLATE "C" NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    id            TEXT COLLATE "C" PRIMARY KEY,
    account_id    TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash    BYTEA NOT NULL UNIQUE,
    client_sealed BYTEA,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE INDEX sessions_last_seen ON sessions(last_seen_at);

CREATE TABLE homes (
    id               TEXT COLLATE "C" PRIMARY KEY,
    name_sealed      BYTEA NOT NULL,
    wrapped_data_key BYTEA NOT NULL,
    retention_days   INTEGER NOT NULL,
    created_at       BIGINT NOT NULL,
    grants_version   BIGINT NOT NULL
);

CREATE TABLE members (
    home_id    TEXT COLLATE "C" NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    role       TEXT COLLATE "C" NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    -- true: the member sees only the cameras listed in member_devices
    limited    BOOLEAN NOT NULL DEFAULT false,
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (home_id, account_id)
);
CREATE INDEX members_account ON members(account_id);

CREATE TABLE devices (
    id           TEXT COLLATE "C" PRIMARY KEY,
    home_id      TEXT COLLATE "C" NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
    name_sealed  BYTEA,
    model        TEXT COLLATE "C" NOT NULL,
    firmware     TEXT COLLATE "C" NOT NULL,
    token_hash   BYTEA NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL DEFAULT 0,
    online       BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX devices_home ON devices(home_id);

-- A viewer limited to some cameras has one row per camera here.
CREATE TABLE member_devices (
    home_id    TEXT COLLATE "C" NOT NULL,
    account_id TEXT COLLATE "C" NOT NULL,
    device_id  TEXT COLLATE "C" NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    PRIMARY KEY (home_id, account_id, device_id),
    FOREIGN KEY (home_id, account_id) REFERENCES members(home_id, account_id) ON DELETE CASCADE
);
CREATE INDEX member_devices_device ON member_devices(device_id);
CREATE INDEX member_devices_account ON member_devices(account_id);

CREATE TABLE pairing_codes (
    code_hash  BYTEA PRIMARY KEY,
    home_id    TEXT COLLATE "C" NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
    created_by TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX pairing_codes_home ON pairing_codes(home_id);

CREATE TABLE throttle (
    key        BYTEA PRIMARY KEY,
    count      INTEGER NOT NULL,
    window_end BIGINT NOT NULL
);

-- +goose Down
DROP TABLE throttle;
DROP TABLE pairing_codes;
DROP TABLE member_devices;
DROP TABLE devices;
DROP TABLE members;
DROP TABLE homes;
DROP TABLE sessions;
DROP TABLE accounts;
