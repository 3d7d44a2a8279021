-- +goose Up
-- A camera kept warm streams live whenever it is connected, not only while
-- someone watches (docs/design/live.md, "On demand or warm").
ALTER TABLE devices ADD COLUMN keep_warm INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE devices DROP COLUMN keep_warm;
