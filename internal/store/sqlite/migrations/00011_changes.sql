-- +goose Up
-- The change log (docs/design/leases.md): every committed change of what a
-- home's members may see, or of an account's sessions, appends one row in
-- its own transaction. Nodes that answer from memory read it at every
-- renewal of their lease and drop what it names. change_clock numbers the
-- log: it is updated in the changing transaction, so numbers have no gaps
-- and follow commit order, and pruning old rows never reuses one.
CREATE TABLE change_clock (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
) STRICT;
INSERT INTO change_clock (id, seq) VALUES (1, 0);

CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    home_id    TEXT NOT NULL,
    account_id TEXT NOT NULL
) STRICT;
CREATE INDEX changes_at ON changes (at);

-- The nodes holding a lease: a change waits for each of them to have read
-- it (or for their lease to run out) before it is acknowledged.
CREATE TABLE leases (
    node       TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE leases;
DROP TABLE changes;
DROP TABLE change_clock;
