-- +goose Up
-- The same tables as the SQLite schema: invitations to join a home
-- (docs/design/authorization.md); nothing is shared until the invitee
-- accepts. The invitee is named by the blind index of their email
-- (accounts.email_index of the account that has it, now or once it signs
-- up) and by the email sealed with the home's data key, for the home's
-- managers; never in the clear.
CREATE TABLE invitations (
    id           TEXT COLLATE "C" PRIMARY KEY,
    home_id      TEXT COLLATE "C" NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
    email_index  BYTEA NOT NULL,
    email_sealed BYTEA NOT NULL,
    role         TEXT COLLATE "C" NOT NULL CHECK (role IN ('admin', 'viewer')),
    -- true: the invitee will see only the cameras listed in invitation_devices
    limited      BOOLEAN NOT NULL DEFAULT FALSE,
    invited_by   TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    -- inviting the same email to the same home again replaces the invitation
    UNIQUE (home_id, email_index)
);
CREATE INDEX invitations_email ON invitations(email_index);
CREATE INDEX invitations_inviter ON invitations(invited_by);
CREATE INDEX invitations_expires ON invitations(expires_at);

-- The cameras a limited invitation offers; a camera removed leaves it.
CREATE TABLE invitation_devices (
    invitation_id TEXT COLLATE "C" NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
    device_id     TEXT COLLATE "C" NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    PRIMARY KEY (invitation_id, device_id)
);
CREATE INDEX invitation_devices_device ON invitation_devices(device_id);

-- +goose Down
DROP TABLE invitation_devices;
DROP TABLE invitations;
