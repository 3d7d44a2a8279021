package store

import (
	"context"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// Homes keeps homes and their members.
type Homes interface {
	// CreateHome inserts h with owner as its first member, atomically.
	CreateHome(ctx context.Context, h domain.Home, owner domain.Member) error
	HomeByID(ctx context.Context, id string) (domain.Home, error)
	// UpdateHome replaces a home's sealed name and/or retention; nil leaves
	// a field as it is.
	UpdateHome(ctx context.Context, id string, nameSealed []byte, retentionDays *int) error
	// Memberships lists the homes an account belongs to, oldest first.
	Memberships(ctx context.Context, accountID string) ([]domain.Membership, error)
	// Member returns one membership, with the home's current grants version.
	Member(ctx context.Context, homeID, accountID string) (domain.Membership, error)
	ListMembers(ctx context.Context, homeID string) ([]domain.Member, error)
	// PutMember inserts or replaces a membership and bumps the home's grants
	// version. Devices not in the home are refused with ErrNotFound.
	PutMember(ctx context.Context, m domain.Member) error
	// DeleteMember removes a membership and bumps the grants version;
	// ErrNotFound if there was none.
	DeleteMember(ctx context.Context, homeID, accountID string) error
	// GrantVersion returns the current grant version of an account in a
	// home: the home's GrantsVersion plus the account's own part, which
	// DeleteSession and DeleteAccountSessions bump. Both parts only grow,
	// so the sum changes on every change of membership, role, camera
	// limits, unpairing and logout. An empty accountID gives the home's
	// part alone. ErrNotFound if the home does not exist; an account that
	// does not exist adds nothing. It is read on every request that uses a
	// cached grant, so it must be one indexed read.
	GrantVersion(ctx context.Context, homeID, accountID string) (int64, error)
}

// Invitations keeps the invitations to join a home that wait for their
// invitee. An invitation is pending while it has not expired and the
// account that made it is still an owner or admin of its home.
type Invitations interface {
	// CreateInvitation inserts inv, in one transaction with removing any
	// other invitation of the same home to the same email index (inviting
	// again replaces the invitation). Cameras not in the home are refused
	// with ErrNotFound, as an unknown home. ErrConflict, and nothing
	// changes, when the home would then have more than perHome invitations
	// unexpired at inv.CreatedAt, or inv.InvitedBy more than perInviter
	// across every home; concurrent calls on any node cannot pass a bound
	// together.
	CreateInvitation(ctx context.Context, inv domain.Invitation, perHome, perInviter int) error
	// Invitation reads one invitation, pending or not.
	Invitation(ctx context.Context, id string) (domain.Invitation, error)
	// InvitationsTo lists the invitations to an email index pending at
	// now, newest first, at most limit of them.
	InvitationsTo(ctx context.Context, emailIndex []byte, now time.Time, limit int) ([]domain.Invitation, error)
	// HomeInvitations lists a home's invitations pending at now, newest
	// first.
	HomeInvitations(ctx context.Context, homeID string, now time.Time) ([]domain.Invitation, error)
	// AcceptInvitation consumes the invitation id if it is to emailIndex
	// and pending at now, and makes accountID a member of its home with
	// the invitation's role and cameras (those still in the home), bumping
	// the home's grants version, in one transaction; it returns the
	// membership. A member already there keeps the time they joined.
	// ErrNotFound, and nothing changes, when there is no such pending
	// invitation to that index; ErrConflict when accountID owns the home
	// (an owner's role never changes this way). Of concurrent accepts of
	// one invitation, one succeeds.
	AcceptInvitation(ctx context.Context, id string, emailIndex []byte, accountID string, now time.Time) (domain.Member, error)
	// DeleteInvitation removes an invitation; ErrNotFound if there was
	// none.
	DeleteInvitation(ctx context.Context, id string) error
	// DeleteExpiredInvitations removes invitations that expired before
	// now and returns how many.
	DeleteExpiredInvitations(ctx context.Context, now time.Time) (int, error)
}

// Devices keeps paired cameras and pairing codes.
type Devices interface {
	CreatePairingCode(ctx context.Context, p domain.PairingCode) error
	// PairDevice consumes the pairing code with the given hash and creates d
	// in its home, atomically; d.HomeID is set from the code. ErrNotFound if
	// the code does not exist, was used, or expired before now.
	PairDevice(ctx context.Context, codeHash []byte, now time.Time, d domain.Device) (domain.Device, error)
	DeviceByID(ctx context.Context, id string) (domain.Device, error)
	DeviceByTokenHash(ctx context.Context, hash []byte) (domain.Device, error)
	ListDevices(ctx context.Context, homeID string) ([]domain.Device, error)
	RenameDevice(ctx context.Context, id string, nameSealed []byte) error
	// SetKeepWarm sets whether a device streams live whenever it is
	// connected; ErrNotFound if there is no such device.
	SetKeepWarm(ctx context.Context, id string, warm bool) error
	// DeleteDevice removes a device, its token and its place in members'
	// device lists, and bumps its home's grants version.
	DeleteDevice(ctx context.Context, id string) error
	// SetDevicePresence records whether a device is connected and when it
	// was last seen.
	SetDevicePresence(ctx context.Context, id string, online bool, lastSeen time.Time) error
	// SetPresence records many presence changes in one transaction (a
	// reconnect storm brings thousands a second); devices that no longer
	// exist are skipped.
	SetPresence(ctx context.Context, updates []domain.Presence) error
}
