-- +goose Up
-- Whom an audit entry's action was done to (an account: a member removed),
-- what it says beyond its action, and from which kind of
-- device it came ("Firefox on Android"), both short and in the hash chain
-- (docs/design/activity.md).
ALTER TABLE audit ADD COLUMN detail TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN client TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN subject_id TEXT COLLATE "C" NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit DROP COLUMN subject_id;
ALTER TABLE audit DROP COLUMN client;
ALTER TABLE audit DROP COLUMN detail;
