-- +goose Up
-- Retention counts from when the server received an event, not from the
-- camera's clock (docs/design/events.md, "Retention"): the sweep finds
-- expired events per home by their receive time.
CREATE INDEX events_home_received ON events(home_id, created_at) WHERE deleted_at IS NULL;

-- +goose Down
DROP INDEX events_home_received;
