-- +goose Up
-- Events: a row points at sealed blobs. deleted_at turns a row into garbage
-- (hidden from every read) before its blobs are unlinked; the row goes last.
CREATE TABLE events (
    id              TEXT COLLATE "C" PRIMARY KEY,
    home_id         TEXT COLLATE "C" NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
    device_id       TEXT COLLATE "C" NOT NULL,
    device_event_id TEXT COLLATE "C" NOT NULL,
    kind            TEXT COLLATE "C" NOT NULL,
    started_at      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    thumb_key       TEXT COLLATE "C" NOT NULL,
    thumb_size      BIGINT NOT NULL,
    clip_key        TEXT COLLATE "C" NOT NULL DEFAULT '',
    clip_size       BIGINT NOT NULL DEFAULT 0,
    deleted_at      BIGINT,
    -- set once the blobs are gone: the row stays as a tombstone so that a
    -- camera retrying the same event_id does not bring a deleted event back
    purged_at       BIGINT,
    -- decides between retries of one upload arriving at several nodes at
    -- once (DESIGN.md invariant 6)
    UNIQUE (device_id, device_event_id)
);
CREATE INDEX events_home_time ON events(home_id, started_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX events_device_time ON events(device_id, started_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX events_deleted ON events(deleted_at) WHERE deleted_at IS NOT NULL AND purged_at IS NULL;
CREATE INDEX events_purged ON events(purged_at) WHERE purged_at IS NOT NULL;

-- Each home's chain. Appends to one home are serialized by a transaction
-- advisory lock on the home; the primary key refuses a second entry with one
-- sequence number whatever happens.
CREATE TABLE audit (
    home_id    TEXT COLLATE "C" NOT NULL,
    seq        BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    actor_kind TEXT COLLATE "C" NOT NULL,
    actor_id   TEXT COLLATE "C" NOT NULL,
    action     TEXT COLLATE "C" NOT NULL,
    device_id  TEXT COLLATE "C" NOT NULL,
    event_id   TEXT COLLATE "C" NOT NULL,
    result     TEXT COLLATE "C" NOT NULL,
    prev_hash  BYTEA,
    hash       BYTEA NOT NULL,
    PRIMARY KEY (home_id, seq)
);

CREATE TABLE incidents (
    id              TEXT COLLATE "C" PRIMARY KEY,
    at              BIGINT NOT NULL,
    kind            TEXT COLLATE "C" NOT NULL,
    requester_kind  TEXT COLLATE "C" NOT NULL,
    requester_id    TEXT COLLATE "C" NOT NULL,
    requested_home  TEXT COLLATE "C" NOT NULL,
    requested_event TEXT COLLATE "C" NOT NULL,
    label_home      TEXT COLLATE "C" NOT NULL,
    label_device    TEXT COLLATE "C" NOT NULL,
    label_event     TEXT COLLATE "C" NOT NULL,
    label_kind      TEXT COLLATE "C" NOT NULL,
    detail          TEXT COLLATE "C" NOT NULL
);
CREATE INDEX incidents_at ON incidents(at DESC, id DESC);

-- +goose Down
DROP TABLE incidents;
DROP TABLE audit;
DROP TABLE events;
