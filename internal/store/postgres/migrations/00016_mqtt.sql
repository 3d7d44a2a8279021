-- +goose Up
-- The same table as the SQLite schema: the MQTT broker a home publishes
-- to (docs/design/mqtt.md), its address and credentials sealed with the
-- home's data key.
CREATE TABLE home_mqtt (
    home_id        TEXT COLLATE "C" PRIMARY KEY REFERENCES homes(id) ON DELETE CASCADE,
    config_sealed  BYTEA NOT NULL,
    topic_prefix   TEXT NOT NULL,
    updated_by     TEXT NOT NULL,
    updated_at     BIGINT NOT NULL,
    last_error     TEXT NOT NULL DEFAULT '',
    last_connected BIGINT NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE home_mqtt;
