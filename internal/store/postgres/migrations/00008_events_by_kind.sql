-- +goose Up
-- A timeline filtered by kind reads one home and kind at a time, in
-- order, and stops after a page (docs/design/events.md, "The timeline at
-- scale"): without this index a kind the home rarely records would scan
-- every event of the home.
CREATE INDEX events_home_kind_time ON events(home_id, kind, started_at DESC, id DESC) WHERE deleted_at IS NULL;

-- +goose Down
DROP INDEX events_home_kind_time;
