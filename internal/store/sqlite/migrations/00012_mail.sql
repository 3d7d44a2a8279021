-- +goose Up
-- Account security (docs/design/mail.md): the outbox of mail waiting to
-- leave, password reset tokens and the devices each account logged in from.
-- No email address and no reset link is here in the clear: a mail names its
-- account (addressed from the account's sealed email when it is sent) and
-- its subject and body are sealed under the master key, bound to the row's
-- ID; a reset token is kept only as its hash; a device only as a keyed hash.
CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    sealed          BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- a node sending the mail holds it until then; 0: nobody
    claimed_until   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX mail_outbox_due ON mail_outbox(next_attempt_at);

CREATE TABLE password_resets (
    token_hash BLOB PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX password_resets_account ON password_resets(account_id);
CREATE INDEX password_resets_expires ON password_resets(expires_at);

CREATE TABLE known_devices (
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    device_hash BLOB NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    PRIMARY KEY (account_id, device_hash)
) STRICT;
CREATE INDEX known_devices_last_seen ON known_devices(last_seen);

-- +goose Down
DROP TABLE known_devices;
DROP TABLE password_resets;
DROP TABLE mail_outbox;
