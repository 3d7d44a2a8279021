-- +goose Up
-- Web Push (docs/design/push.md): a person's browsers that asked for
-- notifications, each tied to the login session that subscribed it (a
-- logout ends it), its endpoint and keys sealed; and what waits to be
-- pushed, made in the event's own transaction.
CREATE TABLE push_subscriptions (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    sealed     BYTEA NOT NULL,
    filter     TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_account ON push_subscriptions(account_id);
CREATE INDEX push_subscriptions_session ON push_subscriptions(session_id);

CREATE TABLE push_deliveries (
    subscription_id TEXT COLLATE "C" NOT NULL REFERENCES push_subscriptions(id) ON DELETE CASCADE,
    event_id        TEXT COLLATE "C" NOT NULL,
    home_id         TEXT COLLATE "C" NOT NULL,
    at              BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at         BIGINT NOT NULL,
    claimed_until   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (subscription_id, event_id)
);
CREATE INDEX push_deliveries_due ON push_deliveries(next_at);

-- Secrets the server makes for itself (the VAPID key), sealed under the
-- master key.
CREATE TABLE server_secrets (
    name       TEXT COLLATE "C" PRIMARY KEY,
    sealed     BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE server_secrets;
DROP TABLE push_deliveries;
DROP TABLE push_subscriptions;
