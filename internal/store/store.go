// Package store declares what camvault keeps durably: the records and the
// interfaces a backend implements. It knows nothing of SQL; backends live in
// subpackages (sqlite, and later postgres) and every one of them must pass
// the conformance suite in storetest.
//
// The store records facts; it never decides who may see what. Personal
// fields arrive here already sealed (the *Sealed fields) and lookups by them
// go through blind indexes, so a dump of any backend shows none of them
// (DESIGN.md invariant 7).
//
// Each method that changes more than one row is one transaction inside the
// backend, so callers never see a half-done change.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every backend returns for the same situations.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: conflict")
)

// Role is a member's role in a home.
type Role string

// The roles, from most to least powerful.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleViewer Role = "viewer"
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r == RoleOwner || r == RoleAdmin || r == RoleViewer }

// Account is a person's account.
type Account struct {
	ID           string
	EmailIndex   []byte // blind index of the normalized email
	EmailSealed  []byte
	PasswordHash string // argon2id, PHC string format
	CreatedAt    time.Time
}

// Session is a logged-in session. Only the hash of its token is kept.
type Session struct {
	ID           string
	AccountID    string
	TokenHash    []byte
	ClientSealed []byte // where the session was opened (address, user agent)
	CreatedAt    time.Time
	LastSeenAt   time.Time
	ExpiresAt    time.Time
}

// Home is a household: the unit of ownership of cameras and media.
type Home struct {
	ID             string
	NameSealed     []byte // sealed with the home's own data key
	WrappedDataKey []byte // the home's data key, wrapped by the master key
	RetentionDays  int
	CreatedAt      time.Time
	// GrantsVersion increases on every change to who may see what in the
	// home: members added, removed or changed, cameras removed. Cached
	// authorization must carry it and compare it (DESIGN.md invariant 3).
	GrantsVersion int64
}

// Member is an account's membership of a home.
type Member struct {
	HomeID    string
	AccountID string
	Role      Role
	// Devices, when not nil, limits a viewer to these cameras (an empty,
	// non-nil list: to none, as when every listed camera was removed).
	Devices []string
	AddedAt time.Time
}

// Membership is a home as seen by one of its members.
type Membership struct {
	Home   Home
	Member Member
}

// Device is a paired camera. Its identity is its token; only the hash of the
// token is kept.
type Device struct {
	ID         string
	HomeID     string
	NameSealed []byte // sealed with the home's data key
	Model      string
	Firmware   string
	TokenHash  []byte
	CreatedAt  time.Time
	LastSeenAt time.Time // zero until the device is first seen
	Online     bool
}

// Presence is a device's connection state at a moment.
type Presence struct {
	DeviceID string
	Online   bool
	LastSeen time.Time
}

// PairingCode is a single-use, short-lived code that lets one camera join a
// home. Only its hash is kept.
type PairingCode struct {
	CodeHash  []byte
	HomeID    string
	CreatedBy string // account ID
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Accounts keeps accounts.
type Accounts interface {
	// CreateAccount inserts a; ErrConflict if the email index is taken.
	CreateAccount(ctx context.Context, a Account) error
	AccountByID(ctx context.Context, id string) (Account, error)
	AccountByEmailIndex(ctx context.Context, index []byte) (Account, error)
}

// Sessions keeps sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error
	SessionByTokenHash(ctx context.Context, hash []byte) (Session, error)
	// TouchSession records use of a session at the given time.
	TouchSession(ctx context.Context, id string, at time.Time) error
	ListSessions(ctx context.Context, accountID string) ([]Session, error)
	// DeleteSession removes one session of an account and bumps the
	// account's part of its grant version; ErrNotFound if the account has
	// no such session.
	DeleteSession(ctx context.Context, accountID, sessionID string) error
	// DeleteAccountSessions removes every session of an account and bumps
	// the account's part of its grant version.
	DeleteAccountSessions(ctx context.Context, accountID string) error
	// DeleteExpiredSessions removes sessions that expired before t, or that
	// were last seen before idleBefore.
	DeleteExpiredSessions(ctx context.Context, t, idleBefore time.Time) (int, error)
}

// Homes keeps homes and their members.
type Homes interface {
	// CreateHome inserts h with owner as its first member, atomically.
	CreateHome(ctx context.Context, h Home, owner Member) error
	HomeByID(ctx context.Context, id string) (Home, error)
	// UpdateHome replaces a home's sealed name and/or retention; nil leaves
	// a field as it is.
	UpdateHome(ctx context.Context, id string, nameSealed []byte, retentionDays *int) error
	// Memberships lists the homes an account belongs to, oldest first.
	Memberships(ctx context.Context, accountID string) ([]Membership, error)
	// Member returns one membership, with the home's current grants version.
	Member(ctx context.Context, homeID, accountID string) (Membership, error)
	ListMembers(ctx context.Context, homeID string) ([]Member, error)
	// PutMember inserts or replaces a membership and bumps the home's grants
	// version. Devices not in the home are refused with ErrNotFound.
	PutMember(ctx context.Context, m Member) error
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

// Devices keeps paired cameras and pairing codes.
type Devices interface {
	CreatePairingCode(ctx context.Context, p PairingCode) error
	// PairDevice consumes the pairing code with the given hash and creates d
	// in its home, atomically; d.HomeID is set from the code. ErrNotFound if
	// the code does not exist, was used, or expired before now.
	PairDevice(ctx context.Context, codeHash []byte, now time.Time, d Device) (Device, error)
	DeviceByID(ctx context.Context, id string) (Device, error)
	DeviceByTokenHash(ctx context.Context, hash []byte) (Device, error)
	ListDevices(ctx context.Context, homeID string) ([]Device, error)
	RenameDevice(ctx context.Context, id string, nameSealed []byte) error
	// DeleteDevice removes a device, its token and its place in members'
	// device lists, and bumps its home's grants version.
	DeleteDevice(ctx context.Context, id string) error
	// SetDevicePresence records whether a device is connected and when it
	// was last seen.
	SetDevicePresence(ctx context.Context, id string, online bool, lastSeen time.Time) error
	// SetPresence records many presence changes in one transaction (a
	// reconnect storm brings thousands a second); devices that no longer
	// exist are skipped.
	SetPresence(ctx context.Context, updates []Presence) error
}

// Throttle counts failures per key in fixed windows (login attempts per
// account and per client address). A key's window starts at its first hit
// after the previous window ended. It lives in the store so every node sees
// the same counts.
type Throttle interface {
	// ThrottleHit adds one to key's count in the window that contains now
	// and returns the new count and when the window ends.
	ThrottleHit(ctx context.Context, key []byte, now time.Time, window time.Duration) (count int, resetAt time.Time, err error)
	// ThrottleCount returns key's count in the window containing now.
	ThrottleCount(ctx context.Context, key []byte, now time.Time) (count int, resetAt time.Time, err error)
	ThrottleReset(ctx context.Context, key []byte) error
}

// Store is everything a backend provides.
type Store interface {
	Accounts
	Sessions
	Homes
	Devices
	Throttle
	Events
	Audit
	Incidents
	Breakers
	KeyChecks
	// Ping checks the backend answers (for readiness).
	Ping(ctx context.Context) error
	Close() error
}

// Event is a motion event a camera uploaded: its record, pointing at its
// sealed blobs.
type Event struct {
	ID            string // server-chosen, random
	HomeID        string
	DeviceID      string
	DeviceEventID string // the camera's own ID for it, unique per device
	Kind          string
	StartedAt     time.Time
	CreatedAt     time.Time
	ThumbKey      string
	ThumbSize     int64  // plaintext bytes
	ClipKey       string // empty when the event has no clip
	ClipSize      int64
}

// EventScope is one home an event query may read, and within it either
// every camera (Devices nil) or only the listed ones.
type EventScope struct {
	HomeID  string
	Devices []string
}

// EventQuery selects events newest first: started before (BeforeTime,
// BeforeID) in (started_at, id) order, at most Limit.
type EventQuery struct {
	Scopes     []EventScope
	Kinds      []string // empty: every kind
	BeforeTime time.Time
	BeforeID   string // with BeforeTime: the cursor of the last event seen
	Limit      int
}

// Events keeps event records.
type Events interface {
	// CreateEvent inserts e. If the device already has an event with the
	// same DeviceEventID, nothing is inserted and the existing event is
	// returned with created false.
	CreateEvent(ctx context.Context, e Event) (stored Event, created bool, err error)
	// EventByID reads a live event (not one being deleted).
	EventByID(ctx context.Context, id string) (Event, error)
	// EventByDeviceEventID reads a device's event, live or being deleted,
	// by the device's own ID for it.
	EventByDeviceEventID(ctx context.Context, deviceID, deviceEventID string) (Event, error)
	ListEvents(ctx context.Context, q EventQuery) ([]Event, error)
	// MarkEventDeleted hides an event from every read and queues its blobs
	// for removal; ErrNotFound if it is not live.
	MarkEventDeleted(ctx context.Context, id string, at time.Time) (Event, error)
	// MarkExpiredEvents marks deleted the events older than their home's
	// retention at now, at most limit, and returns how many.
	MarkExpiredEvents(ctx context.Context, now time.Time, limit int) (int, error)
	// DeletedEvents lists events marked deleted whose blobs may remain.
	DeletedEvents(ctx context.Context, limit int) ([]Event, error)
	// PurgeEvent records that a deleted event's blobs are gone. The row
	// stays as a tombstone, so a camera retrying the same event ID gets the
	// same answer and does not bring the event back; ErrNotFound if the
	// event is live or already purged.
	PurgeEvent(ctx context.Context, id string, at time.Time) error
	// DropTombstones removes tombstones purged before t, and returns how
	// many.
	DropTombstones(ctx context.Context, before time.Time) (int, error)
	// EventRecordExists reports whether any record, live or marked deleted,
	// has the ID: blobs without one are orphans.
	EventRecordExists(ctx context.Context, id string) (bool, error)
}

// AuditEntry is one entry of a home's audit chain.
type AuditEntry struct {
	HomeID    string
	Seq       int64 // 1, 2, 3 ... per home
	At        time.Time
	ActorKind string // person, device, integration, staff
	ActorID   string
	Action    string
	DeviceID  string
	EventID   string
	Result    string
	PrevHash  []byte
	Hash      []byte
}

// Audit keeps each home's audit chain.
type Audit interface {
	// AppendAudit appends one entry to a home's chain. build is called,
	// inside the append's transaction, with the chain's last sequence
	// number and hash (0 and nil for an empty chain) and returns the entry.
	AppendAudit(ctx context.Context, homeID string, build func(prevSeq int64, prevHash []byte) AuditEntry) error
	// ListAudit returns entries with Seq below beforeSeq (0: from the end),
	// newest first, at most limit.
	ListAudit(ctx context.Context, homeID string, beforeSeq int64, limit int) ([]AuditEntry, error)
	// AuditHomes lists the homes that have an audit chain.
	AuditHomes(ctx context.Context) ([]string, error)
}

// Incident is a response the last-step check refused to send, or a cache
// entry that did not prove what it was: enough to tell exactly which
// households were concerned.
type Incident struct {
	ID             string
	At             time.Time
	Kind           string // "egress_blocked", "cache_mismatch", ...
	RequesterKind  string
	RequesterID    string
	RequestedHome  string
	RequestedEvent string
	LabelHome      string // whose data it was
	LabelDevice    string
	LabelEvent     string
	LabelKind      string
	Detail         string
}

// Incidents keeps incidents.
type Incidents interface {
	RecordIncident(ctx context.Context, in Incident) error
	ListIncidents(ctx context.Context, limit int) ([]Incident, error)
}

// Breaker is the state of a circuit breaker shared by every node: while
// Open, the cache is out of the media and authorization paths.
type Breaker struct {
	Name      string
	Open      bool
	Reason    string    // why it last changed
	ChangedAt time.Time // zero when it never changed
	Trips     int64     // how many times it opened
}

// Breakers keeps breaker states.
type Breakers interface {
	// Breaker reads a breaker; one that was never set is closed, with a
	// zero ChangedAt.
	Breaker(ctx context.Context, name string) (Breaker, error)
	// SetBreaker opens or closes a breaker. Opening a closed one adds one
	// to Trips; setting the state it already has changes nothing and
	// returns changed false, so of several nodes tripping at once only one
	// records the trip.
	SetBreaker(ctx context.Context, name string, open bool, reason string, at time.Time) (changed bool, err error)
}

// KeyChecks keeps one check value per master key generation: what the
// first node to use that generation derived from its key, so a node with
// another key is refused before it writes anything.
type KeyChecks interface {
	// KeyCheck stores value for the generation if none is stored yet and
	// returns the value stored, atomically: of several nodes racing, every
	// one gets the first value written.
	KeyCheck(ctx context.Context, generation uint32, value []byte) (stored []byte, err error)
}
