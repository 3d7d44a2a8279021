-- +goose Up
-- Whom an audit entry's action was done to (an account: a member removed),
-- what it says beyond its action (a new role, a camera's new
-- name is not kept: only what changed), and from which kind of device it
-- came ("Firefox on Android"), both short and in the hash chain
-- (docs/design/activity.md).
ALTER TABLE audit ADD COLUMN detail TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN client TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN subject_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit DROP COLUMN subject_id;
ALTER TABLE audit DROP COLUMN client;
ALTER TABLE audit DROP COLUMN detail;
