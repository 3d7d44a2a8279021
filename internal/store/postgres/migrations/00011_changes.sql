-- +goose Up
-- The change log (docs/design/leases.md): every committed change of what a
-- home's members may see, or of an account's sessions, appends one row in
-- its own transaction. Nodes that answer from memory read it at every
-- renewal of their lease and drop what it names. change_clock numbers the
-- log: its one row is updated in the changing transaction, which holds the
-- row's lock until it commits, so numbers have no gaps and follow commit
-- order on every node (a sequence would do neither), and pruning old rows
-- never reuses one.
CREATE TABLE change_clock (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO change_clock (id, seq) VALUES (1, 0);

CREATE TABLE changes (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    home_id    TEXT COLLATE "C" NOT NULL,
    account_id TEXT COLLATE "C" NOT NULL
);
CREATE INDEX changes_at ON changes (at);

-- The nodes holding a lease: a change waits for each of them to have read
-- it (or for their lease to run out) before it is acknowledged.
CREATE TABLE leases (
    node       TEXT COLLATE "C" PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE leases;
DROP TABLE changes;
DROP TABLE change_clock;
