-- +goose Up
-- The MQTT broker a home publishes to (docs/design/mqtt.md): its address
-- and credentials sealed with the home's data key.
CREATE TABLE home_mqtt (
    home_id        TEXT PRIMARY KEY REFERENCES homes(id) ON DELETE CASCADE,
    config_sealed  BLOB NOT NULL,
    topic_prefix   TEXT NOT NULL,
    updated_by     TEXT NOT NULL,
    updated_at     INTEGER NOT NULL,
    last_error     TEXT NOT NULL DEFAULT '',
    last_connected INTEGER NOT NULL DEFAULT 0
) STRICT;

-- +goose Down
DROP TABLE home_mqtt;
