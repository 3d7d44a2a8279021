-- +goose Up
-- The same tables as the SQLite schema: homes' webhooks and their
-- deliveries (docs/design/webhooks.md). The URL and the signing secret are
-- sealed with the home's data key.
CREATE TABLE webhooks (
    id                TEXT COLLATE "C" PRIMARY KEY,
    home_id           TEXT COLLATE "C" NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
    url_sealed        BYTEA NOT NULL,
    secret_sealed     BYTEA NOT NULL,
    on_event_created  BOOLEAN NOT NULL DEFAULT FALSE,
    on_device_online  BOOLEAN NOT NULL DEFAULT FALSE,
    on_device_offline BOOLEAN NOT NULL DEFAULT FALSE,
    created_by        TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    -- deliveries given up on since the last that arrived
    failures          BIGINT NOT NULL DEFAULT 0,
    last_delivery_at  BIGINT NOT NULL DEFAULT 0,
    last_status       TEXT NOT NULL DEFAULT '',
    -- 0: enabled
    disabled_at       BIGINT NOT NULL DEFAULT 0,
    disabled_reason   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhooks_home ON webhooks(home_id);

-- One message for one webhook: pending until it arrives, is given up on
-- after a day, or what it tells of is gone. The ID is the Standard
-- Webhooks webhook-id, the same on every attempt.
CREATE TABLE webhook_deliveries (
    id            TEXT COLLATE "C" PRIMARY KEY,
    webhook_id    TEXT COLLATE "C" NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    home_id       TEXT COLLATE "C" NOT NULL,
    type          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    at            BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    -- hidden from other claims until then (several nodes)
    claimed_until BIGINT NOT NULL DEFAULT 0,
    state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed', 'skipped')),
    last_error    TEXT NOT NULL DEFAULT '',
    done_at       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id, at);
CREATE INDEX webhook_deliveries_done ON webhook_deliveries(done_at) WHERE state != 'pending';

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
