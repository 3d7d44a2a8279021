-- +goose Up
-- Events: a row points at sealed blobs. deleted_at turns a row into garbage
-- (hidden from every read) before its blobs are unlinked; the row goes last.
CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    home_id         TEXT NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
    device_id       TEXT NOT NULL,
    device_event_id TEXT NOT NULL,
    kind            TEXT NOT NULL,
    started_at      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    thumb_key       TEXT NOT NULL,
    thumb_size      INTEGER NOT NULL,
    clip_key        TEXT NOT NULL DEFAULT '',
    clip_size       INTEGER NOT NULL DEFAULT 0,
    deleted_at      INTEGER,
    -- set once the blobs are gone: the row stays as a tombstone so that a
    -- camera retrying the same event_id does not bring a deleted event back
    purged_at       INTEGER,
    UNIQUE (device_id, device_event_id)
) STRICT;
CREATE INDEX events_home_time ON events(home_id, started_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX events_device_time ON events(device_id, started_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX events_deleted ON events(deleted_at) WHERE deleted_at IS NOT NULL AND purged_at IS NULL;
CREATE INDEX events_purged ON events(purged_at) WHERE purged_at IS NOT NULL;

CREATE TABLE audit (
    home_id    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    action     TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    result     TEXT NOT NULL,
    prev_hash  BLOB,
    hash       BLOB NOT NULL,
    PRIMARY KEY (home_id, seq)
) STRICT;

CREATE TABLE incidents (
    id              TEXT PRIMARY KEY,
    at              INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    requester_kind  TEXT NOT NULL,
    requester_id    TEXT NOT NULL,
    requested_home  TEXT NOT NULL,
    requested_event TEXT NOT NULL,
    label_home      TEXT NOT NULL,
    label_device    TEXT NOT NULL,
    label_event     TEXT NOT NULL,
    label_kind      TEXT NOT NULL,
    detail          TEXT NOT NULL
) STRICT;
CREATE INDEX incidents_at ON incidents(at);

-- +goose Down
DROP TABLE incidents;
DROP TABLE audit;
DROP TABLE events;
