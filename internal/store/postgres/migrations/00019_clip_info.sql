-- +goose Up
-- What the server reads of a clip as it arrives (docs/design/events.md,
-- "Clip info"): its codec, how long it plays and its picture size. Empty
-- and 0 for an event without a clip and for clips stored before.
ALTER TABLE events ADD COLUMN clip_codec TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN clip_duration_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN clip_width INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN clip_height INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE events DROP COLUMN clip_height;
ALTER TABLE events DROP COLUMN clip_width;
ALTER TABLE events DROP COLUMN clip_duration_ms;
ALTER TABLE events DROP COLUMN clip_codec;
