// Package domain is camvault's vocabulary: the records every service
// shares (account, home, member, device, event, audit entry, incident ...)
// and the kinds that name their variants. It holds data and the rules that
// belong to the data alone; it imports nothing of camvault, so every other
// package may use it. What is kept, and how, is the store's business
// (internal/store); who may see what is authz's.
package domain

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
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
	ID         string
	EmailIndex []byte // blind index of the normalized email
	// EmailGen is the master key generation EmailIndex was made under; 0
	// for an account written before generations were recorded.
	EmailGen     uint32
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
	// authorization must carry it and compare it (invariant 3).
	GrantsVersion int64
	// RequireSecondFactor: members without a second factor are refused
	// the home's data (docs/design/second-factors.md).
	RequireSecondFactor bool
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
	// SecondFactor: the member's account has a confirmed TOTP or a
	// passkey, as the store read it with the membership.
	SecondFactor bool
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
	// KeepWarm: the camera streams live whenever it is connected, not only
	// while someone watches, so a viewer's first frame comes at once.
	KeepWarm bool
}

// Presence is a device's connection state at a moment.
type Presence struct {
	DeviceID string
	HomeID   string // the home the device was paired into, for notices
	Online   bool
	LastSeen time.Time
}

// Invitation is an offer to join a home, made by one of its owners or
// admins to an email address. Nothing is shared until the person with that
// email accepts it, which makes them a member with Role and Devices. The
// email is kept twice, never in the clear: as its blind index, the one an
// account with that email has (so it matches the invitee's account, now or
// once they sign up), and sealed with the home's data key (so the home's
// managers see whom they invited).
type Invitation struct {
	ID         string
	HomeID     string
	EmailIndex []byte
	// EmailGen is the master key generation EmailIndex was made under; 0
	// for an invitation written before generations were recorded.
	EmailGen    uint32
	EmailSealed []byte
	Role        Role // admin or viewer
	// Devices, when not nil, limits the viewer to these cameras, as
	// Member.Devices does.
	Devices   []string
	InvitedBy string // account ID
	CreatedAt time.Time
	ExpiresAt time.Time
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

// EventKind is what a camera detected.
type EventKind string

// EventKinds returns every event kind, in the order the API (api/openapi.json) and the web
// app's filter list them. It is the one list: uploads, the events filter
// and its error message follow it, and a test holds api/openapi.json's
// enum to it, so a new kind is added here (and the test then asks for it
// in the OpenAPI document). A function, so no caller can change the list.
func EventKinds() []EventKind {
	return []EventKind{"motion", "person", "vehicle", "animal", "package", "sound", "doorbell"}
}

// Valid reports whether k is one of EventKinds.
func (k EventKind) Valid() bool { return slices.Contains(EventKinds(), k) }

// ParseEventKind returns s as an event kind, or an error that names every
// kind, fit to show to whoever sent s.
func ParseEventKind(s string) (EventKind, error) {
	if k := EventKind(s); k.Valid() {
		return k, nil
	}
	quoted := make([]string, 0, len(EventKinds()))
	for _, k := range EventKinds() {
		quoted = append(quoted, strconv.Quote(string(k)))
	}
	return "", errors.New("kind must be one of " + strings.Join(quoted, ", "))
}

// Event is an event a camera uploaded: its record, pointing at its sealed
// blobs.
type Event struct {
	ID            string // server-chosen, random
	HomeID        string
	DeviceID      string
	DeviceEventID string // the camera's own ID for it, unique per device
	Kind          EventKind
	StartedAt     time.Time
	CreatedAt     time.Time
	ThumbKey      string
	ThumbSize     int64  // plaintext bytes
	ClipKey       string // empty when the event has no clip
	ClipSize      int64
	// What the server read of the clip as it arrived (media.ClipInfo):
	// its codec ("h264" or "h265"), how long it plays and its picture
	// size. ClipCodec is empty when the event has no clip, and for a clip
	// stored before the server read them.
	ClipCodec      string
	ClipDurationMS int64
	ClipWidth      int
	ClipHeight     int
}

// PrincipalKind is the kind of authenticated principal: who makes a
// request (authz.Principal), acts in an audit entry, or asks for a cache
// entry.
type PrincipalKind string

// The kinds of principal.
const (
	PrincipalPerson      PrincipalKind = "person"
	PrincipalDevice      PrincipalKind = "device"
	PrincipalIntegration PrincipalKind = "integration"
)

// AuditEntry is one entry of a home's audit chain.
type AuditEntry struct {
	HomeID    string
	Seq       int64 // 1, 2, 3 ... per home
	At        time.Time
	ActorKind PrincipalKind
	ActorID   string
	Action    string
	DeviceID  string
	EventID   string
	Result    string
	// Detail says what changed beyond the action (a role, a setting), and
	// Client from which kind of device ("Firefox on Android"); both short,
	// and empty in entries made before they were recorded.
	Detail string
	Client string
	// SubjectID is the account the action was done to (a member whose
	// role changed), or "".
	SubjectID string
	PrevHash  []byte
	Hash      []byte
	// KeyGen is the master key generation whose audit key made Hash; 0
	// for an entry written before generations were recorded.
	KeyGen uint32
}

// AuditHead is where a home's audit chain ended when it was last appended
// to: the last entry's sequence number and hash, with MAC, under the audit
// key of generation KeyGen, binding them to the home. Removing a chain's
// newest entries, or all of them, leaves the head naming entries that are
// gone.
type AuditHead struct {
	HomeID string
	Seq    int64
	Hash   []byte
	KeyGen uint32
	MAC    []byte
}

// AuditTip is what an append sees of a home's chain: its last entry (nil
// for none), its head (nil for none), and the hash of the entry at the
// head's sequence number (nil for none). Of the last entry only the
// sequence number, hash and generation are read, unless the chain has no
// head and the entry no generation (a chain from before heads): then all
// of it, for the append to check it.
type AuditTip struct {
	Last          *AuditEntry
	Head          *AuditHead
	HeadEntryHash []byte
}

// Seq is the last entry's sequence number, 0 for an empty chain.
func (t AuditTip) Seq() int64 {
	if t.Last == nil {
		return 0
	}
	return t.Last.Seq
}

// Hash is the last entry's hash, nil for an empty chain.
func (t AuditTip) Hash() []byte {
	if t.Last == nil {
		return nil
	}
	return t.Last.Hash
}

// AuditHome is a home as the audit verification lists it: every home that
// exists, has audit entries or has a head.
type AuditHome struct {
	HomeID     string
	Exists     bool // the home's row exists
	HasEntries bool
	Head       *AuditHead // nil: none
}

// KeyGeneration is what the store records of a master key generation.
type KeyGeneration struct {
	Generation uint32
	// Retired: nothing but audit entries needs the generation any more;
	// the key file keeps its audit key alone, or nothing of it.
	Retired bool
	// AuditCheck identifies the audit key an audit-only line must hold,
	// recorded at retirement (nil before).
	AuditCheck []byte
}

// KeyUse counts, per master key generation, the stored values made under
// it (generation 0: not recorded, from before generations were).
type KeyUse struct {
	DataKeys       map[uint32]int64 // homes' wrapped data keys
	Emails         map[uint32]int64 // accounts' sealed emails
	EmailIndexes   map[uint32]int64 // accounts' email blind indexes
	SessionClients map[uint32]int64 // sessions' sealed client descriptions
	TOTPSecrets    map[uint32]int64 // accounts' sealed TOTP secrets
	PushEndpoints  map[uint32]int64 // push subscriptions' sealed endpoints and keys
	ServerSecrets  map[uint32]int64 // the server's own sealed secrets (the VAPID key)
	Invitations    map[uint32]int64 // invitations' email indexes
	AuditEntries   map[uint32]int64
	AuditHeads     map[uint32]int64
}

// IncidentKind is what an incident records. The breaker's alarms are
// named by the first two.
type IncidentKind string

// The kinds of incident.
const (
	IncidentEgressBlocked IncidentKind = "egress_blocked" // a media response the last step refused
	IncidentCacheMismatch IncidentKind = "cache_mismatch" // a cache entry that did not prove what it was
	IncidentBreakerOpen   IncidentKind = "breaker_open"   // the breaker opened
)

// Incident is a response the last-step check refused to send, or a cache
// entry that did not prove what it was: enough to tell exactly which
// households were concerned.
type Incident struct {
	ID             string
	At             time.Time
	Kind           IncidentKind
	RequesterKind  PrincipalKind
	RequesterID    string
	RequestedHome  string
	RequestedEvent string
	LabelHome      string // whose data it was
	LabelDevice    string
	LabelEvent     string
	LabelKind      string // the media kind (media.Kind) the label named
	Detail         string
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

// Change is one entry of the store's change log: a committed change of
// what a home's members may see (a member added, changed or removed, a
// camera unpaired, an event deleted or expired) or of an account's
// sessions (a logout). Nodes that answer from memory drop what it names
// (docs/design/leases.md). Seq numbers the log without gaps, in commit
// order.
type Change struct {
	Seq       int64
	At        time.Time
	HomeID    string // "" when the change concerns an account only
	AccountID string // "" when the change concerns a home only
}

// Partner is a third-party service (a smart display, a voice assistant)
// an operator registered, which people may link to their account with
// OAuth 2.0. Its ID is the OAuth client ID; only the hash of its client
// secret is kept.
type Partner struct {
	ID          string
	Name        string
	RedirectURI string // the one redirect URI, matched exactly
	SecretHash  []byte
	// Disabled stops every link of the partner at once (the kill switch);
	// enabling it again restores them.
	Disabled bool
	// Version grows on every change of Disabled, so a live session of the
	// partner is re-decided when it changes.
	Version   int64
	CreatedAt time.Time
}

// PartnerRequest is an OAuth 2.0 authorization request on its way: made by
// the partner, then approved by a person on the consent page (AccountID,
// Devices and Live set), then given a code, which the partner exchanges
// for tokens once.
type PartnerRequest struct {
	ID                  string
	PartnerID           string
	RedirectURI         string
	State               string
	Scopes              []string
	CodeChallenge       string
	CodeChallengeMethod string
	CreatedAt           time.Time
	ExpiresAt           time.Time
	AccountID           string   // "" until a person approved it
	Devices             []string // the cameras the person chose
	Live                bool     // whether the person let the partner watch live
	CodeHash            []byte   // nil until the code was issued
}

// PartnerLink is a person's consent to a partner: the partner may see these
// cameras (as long as the person may), and watch them live if Live. Its
// tokens are bound to it.
type PartnerLink struct {
	ID        string
	PartnerID string
	AccountID string
	Devices   []string
	Live      bool
	CreatedAt time.Time
	// Read with the link, from its partner.
	PartnerName     string
	PartnerDisabled bool
	PartnerVersion  int64
}

// PartnerTokenKind is the kind of a token issued to a partner.
type PartnerTokenKind string

// The kinds of partner token.
const (
	PartnerAccess  PartnerTokenKind = "access"
	PartnerRefresh PartnerTokenKind = "refresh"
)

// PartnerToken is an access or refresh token of a link. Only its hash is
// kept. A refresh token is used once: rotating it records UsedAt, and a
// second use of it revokes the whole link.
type PartnerToken struct {
	Hash      []byte
	LinkID    string
	Kind      PartnerTokenKind
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero while unused
}
