-- +goose Up
-- Web Push (docs/design/push.md): a person's browsers that asked for
-- notifications, each tied to the login session that subscribed it (a
-- logout ends it), its endpoint and keys sealed; and what waits to be
-- pushed, made in the event's own transaction.
CREATE TABLE push_subscriptions (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    sealed     BLOB NOT NULL,
    filter     TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX push_subscriptions_account ON push_subscriptions(account_id);
CREATE INDEX push_subscriptions_session ON push_subscriptions(session_id);

CREATE TABLE push_deliveries (
    subscription_id TEXT NOT NULL REFERENCES push_subscriptions(id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    home_id         TEXT NOT NULL,
    at              INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at         INTEGER NOT NULL,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subscription_id, event_id)
) STRICT;
CREATE INDEX push_deliveries_due ON push_deliveries(next_at);

-- Secrets the server makes for itself (the VAPID key), sealed under the
-- master key.
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    sealed     BLOB NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE server_secrets;
DROP TABLE push_deliveries;
DROP TABLE push_subscriptions;
