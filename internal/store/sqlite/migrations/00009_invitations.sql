-- +goose Up
-- Invitations to join a home (docs/design/authorization.md): nothing is
-- shared until the invitee accepts. The invitee is named by the blind
-- index of their email (accounts.email_index of the account that has it,
-- now or once it signs up) and by the email sealed with the home's data
-- key, for the home's managers; never in the clear.
CREATE TABLE invitations (
    id           TEXT PRIMARY KEY,
    home_id      TEXT NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
    email_index  BLOB NOT NULL,
    email_sealed BLOB NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    -- 1: the invitee will see only the cameras listed in invitation_devices
    limited      INTEGER NOT NULL DEFAULT 0,
    invited_by   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    -- inviting the same email to the same home again replaces the invitation
    UNIQUE (home_id, email_index)
) STRICT;
CREATE INDEX invitations_email ON invitations(email_index);
CREATE INDEX invitations_inviter ON invitations(invited_by);
CREATE INDEX invitations_expires ON invitations(expires_at);

-- The cameras a limited invitation offers; a camera removed leaves it.
CREATE TABLE invitation_devices (
    invitation_id TEXT NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
    device_id     TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    PRIMARY KEY (invitation_id, device_id)
) STRICT;
CREATE INDEX invitation_devices_device ON invitation_devices(device_id);

-- +goose Down
DROP TABLE invitation_devices;
DROP TABLE invitations;
