-- +goose Up
-- Account security (docs/design/mail.md): the outbox of mail waiting to
-- leave, password reset tokens and the devices each account logged in from.
-- No email address and no reset link is here in the clear: a mail names its
-- account (addressed from the account's sealed email when it is sent) and
-- its subject and body are sealed under the master key, bound to the row's
-- ID; a reset token is kept only as its hash; a device only as a keyed hash.
CREATE TABLE mail_outbox (
    id              TEXT COLLATE "C" PRIMARY KEY,
    account_id      TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    sealed          BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    -- a node sending the mail holds it until then; 0: nobody
    claimed_until   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX mail_outbox_due ON mail_outbox(next_attempt_at);

CREATE TABLE password_resets (
    token_hash BYTEA PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX password_resets_account ON password_resets(account_id);
CREATE INDEX password_resets_expires ON password_resets(expires_at);

CREATE TABLE known_devices (
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    device_hash BYTEA NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    PRIMARY KEY (account_id, device_hash)
);
CREATE INDEX known_devices_last_seen ON known_devices(last_seen);

-- +goose Down
DROP TABLE known_devices;
DROP TABLE password_resets;
DROP TABLE mail_outbox;
