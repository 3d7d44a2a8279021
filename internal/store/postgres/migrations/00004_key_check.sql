-- +goose Up
-- One check value per master key generation, derived from that key for
-- this purpose alone: the first node to use a generation records it, and a
-- node whose key gives another value refuses to start.
CREATE TABLE key_check (
    generation BIGINT PRIMARY KEY,
    value      BYTEA NOT NULL
);

-- +goose Down
DROP TABLE key_check;
