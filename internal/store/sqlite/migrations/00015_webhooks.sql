-- +goose Up
-- Homes' webhooks and their deliveries (docs/design/webhooks.md). The URL
-- and the signing secret are sealed with the home's data key.
CREATE TABLE webhooks (
    id                TEXT PRIMARY KEY,
    home_id           TEXT NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
    url_sealed        BLOB NOT NULL,
    secret_sealed     BLOB NOT NULL,
    on_event_created  INTEGER NOT NULL DEFAULT 0,
    on_device_online  INTEGER NOT NULL DEFAULT 0,
    on_device_offline INTEGER NOT NULL DEFAULT 0,
    created_by        TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    -- deliveries given up on since the last that arrived
    failures          INTEGER NOT NULL DEFAULT 0,
    last_delivery_at  INTEGER NOT NULL DEFAULT 0,
    last_status       TEXT NOT NULL DEFAULT '',
    -- 0: enabled
    disabled_at       INTEGER NOT NULL DEFAULT 0,
    disabled_reason   TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX webhooks_home ON webhooks(home_id);

-- One message for one webhook: pending until it arrives, is given up on
-- after a day, or what it tells of is gone. The ID is the Standard
-- Webhooks webhook-id, the same on every attempt.
CREATE TABLE webhook_deliveries (
    id            TEXT PRIMARY KEY,
    webhook_id    TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    home_id       TEXT NOT NULL,
    type          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    at            INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       INTEGER NOT NULL,
    -- hidden from other claims until then (several nodes)
    claimed_until INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed', 'skipped')),
    last_error    TEXT NOT NULL DEFAULT '',
    done_at       INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id, at);
CREATE INDEX webhook_deliveries_done ON webhook_deliveries(done_at) WHERE state != 'pending';

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
