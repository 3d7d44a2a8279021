// Package homes owns households: homes, their members and roles, their
// cameras and the pairing that brings a camera in. Every decision about who
// may do what goes through authz; this package carries it out.
package homes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/store"
)

// Store is what the homes service keeps in the store.
type Store interface {
	store.Homes
	store.Invitations
	store.Devices
	store.Throttle
	SetRequireSecondFactor(ctx context.Context, homeID string, on bool) error
}

// Accounts names accounts and their emails; *identity.Service is one.
type Accounts interface {
	// Account reads an account with its email.
	Account(ctx context.Context, accountID string) (identity.Account, error)
	// EmailIndex normalizes an email and gives its blind index, the one
	// an account with that email has, without reading anything.
	EmailIndex(email string) (normalized string, index []byte, err error)
	// EmailIndexes is EmailIndex under every master key generation, the
	// current one first.
	EmailIndexes(email string) (normalized string, indexes [][]byte, err error)
}

// Recorder appends to a home's audit log; *audit.Log is one.
type Recorder interface {
	Record(ctx context.Context, homeID string, e audit.Entry) error
}

// Connections reaches a camera's live connection, on whichever node holds
// it; *gateway.Gateway is one.
type Connections interface {
	// Revoke closes an unpaired camera's connection.
	Revoke(ctx context.Context, deviceID string)
	// SetWarm tells the connection that the camera is kept warm (it
	// streams while connected) or no longer; a camera connected nowhere
	// reads the setting from the store when it connects.
	SetWarm(ctx context.Context, dev domain.Device, warm bool)
}

// Config tunes pairing.
type Config struct {
	PairingCodeTTL time.Duration
	// PairFailures is how many wrong pairing codes one client address may
	// try per PairWindow.
	PairFailures     int
	PairWindow       time.Duration
	DefaultRetention int // days an event is kept, for new homes
	// PresenceTTL is how long a camera marked online stays online without
	// its last seen being written again; 0: for as long as it is marked.
	// It must exceed how often a connected camera's last seen is written
	// (the gateway's LastSeenEvery) plus a few missed heartbeats.
	PresenceTTL time.Duration
	// InvitationTTL is how long an invitation waits for its invitee.
	InvitationTTL time.Duration
	// InvitationsPerHome bounds a home's pending invitations, and
	// InvitationsPerInviter one person's over every home, so a hostile
	// household cannot flood anyone with them.
	InvitationsPerHome    int
	InvitationsPerInviter int
	Now                   func() time.Time
}

// DefaultConfig is the production configuration.
func DefaultConfig() Config {
	return Config{
		PairingCodeTTL:   10 * time.Minute,
		PairFailures:     20,
		PairWindow:       15 * time.Minute,
		DefaultRetention: 30,
		// A week: time to notice it and, without an account yet, sign
		// up; short enough that an invitation nobody took up does not
		// wait for whoever has the address next (docs/design/authorization.md).
		InvitationTTL:         7 * 24 * time.Hour,
		InvitationsPerHome:    20,
		InvitationsPerInviter: 20,
		Now:                   time.Now,
	}
}

// Service is the homes service.
type Service struct {
	store    Store
	authz    *authz.Decider
	keys     *keys.Keyring
	accounts Accounts
	conns    Connections
	audit    Recorder
	cfg      Config
}

// New returns the homes service; invitations are recorded in r.
func New(s Store, d *authz.Decider, k *keys.Keyring, a Accounts, c Connections, r Recorder, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := DefaultConfig()
	if cfg.InvitationTTL <= 0 {
		cfg.InvitationTTL = def.InvitationTTL
	}
	if cfg.InvitationsPerHome <= 0 {
		cfg.InvitationsPerHome = def.InvitationsPerHome
	}
	if cfg.InvitationsPerInviter <= 0 {
		cfg.InvitationsPerInviter = def.InvitationsPerInviter
	}
	return &Service{store: s, authz: d, keys: k, accounts: a, conns: c, audit: r, cfg: cfg}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Home is a home as one of its members sees it.
type Home struct {
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	Role          domain.Role `json:"role"`
	RetentionDays int         `json:"retention_days"`
	// RequireSecondFactor: the home refuses members without a second
	// factor; NeedsSecondFactor: the caller is one of them (only the
	// home list shows such a home, with this, so the person knows why).
	RequireSecondFactor bool `json:"require_second_factor"`
	NeedsSecondFactor   bool `json:"needs_second_factor,omitempty"`
}

const maxNameRunes = 64

// CheckName validates a display name (of a home or a camera): 1 to 64
// characters, no control characters, surrounding space trimmed.
func CheckName(field, name string) (string, error) {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	if n == 0 || n > maxNameRunes || !utf8.ValidString(name) {
		return "", apperr.New(apperr.Invalid, "%s must be 1 to %d characters", field, maxNameRunes)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", apperr.New(apperr.Invalid, "%s must not contain control characters", field)
		}
	}
	return name, nil
}

func homeNameAD(homeID string) []byte { return keys.AD("home-name", homeID) }

// Create makes a home owned by p, with its own data key.
func (s *Service) Create(ctx context.Context, p authz.Principal, name string) (Home, error) {
	if !p.IsPerson() {
		return Home{}, apperr.New(apperr.Unauthorized, "a person's session is required")
	}
	name, err := CheckName("name", name)
	if err != nil {
		return Home{}, err
	}
	dk, err := keys.NewDataKey()
	if err != nil {
		return Home{}, err
	}
	now := s.now()
	h := domain.Home{
		ID:            id.New(),
		RetentionDays: s.cfg.DefaultRetention,
		CreatedAt:     now,
		GrantsVersion: 1,
	}
	h.WrappedDataKey = s.keys.WrapDataKey(dk, h.ID)
	h.NameSealed = dk.Seal([]byte(name), homeNameAD(h.ID))
	owner := domain.Member{HomeID: h.ID, AccountID: p.AccountID, Role: domain.RoleOwner, AddedAt: now}
	if err := s.store.CreateHome(ctx, h, owner); err != nil {
		return Home{}, fmt.Errorf("create home: %w", err)
	}
	return Home{ID: h.ID, Name: name, Role: domain.RoleOwner, RetentionDays: h.RetentionDays}, nil
}

// List returns the homes p belongs to.
func (s *Service) List(ctx context.Context, p authz.Principal) ([]Home, error) {
	if !p.IsPerson() {
		return nil, apperr.New(apperr.Unauthorized, "a person's session is required")
	}
	ms, err := s.store.Memberships(ctx, p.AccountID)
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	out := make([]Home, 0, len(ms))
	for _, m := range ms {
		h, err := s.view(m)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// Update changes a home's name or retention (days its events are kept,
// 1 to 3650). Owners and admins only.
func (s *Service) Update(ctx context.Context, p authz.Principal, homeID string, name *string, retentionDays *int) (Home, error) {
	return s.Change(ctx, p, homeID, Settings{Name: name, RetentionDays: retentionDays})
}

// Settings is a change of a home's settings; nil leaves one as it is.
type Settings struct {
	Name          *string
	RetentionDays *int // 1 to 3650
	// RequireSecondFactor: members without a second factor are refused
	// the home's data (docs/design/second-factors.md).
	RequireSecondFactor *bool
}

// Change changes a home's settings. Owners and admins only. Everything is
// checked before anything changes; turning the second-factor requirement
// on needs a second factor of the caller's own (409 otherwise), so nobody
// locks themselves out of their home.
func (s *Service) Change(ctx context.Context, p authz.Principal, homeID string, c Settings) (Home, error) {
	g, err := s.authz.Home(ctx, p, homeID, authz.ManageDevices)
	if err != nil {
		return Home{}, err
	}
	if c.Name == nil && c.RetentionDays == nil && c.RequireSecondFactor == nil {
		return Home{}, apperr.New(apperr.Invalid, "give name, retention_days or require_second_factor")
	}
	if c.RetentionDays != nil && (*c.RetentionDays < 1 || *c.RetentionDays > 3650) {
		return Home{}, apperr.New(apperr.Invalid, "retention_days must be 1 to 3650")
	}
	if c.RequireSecondFactor != nil && *c.RequireSecondFactor && !g.Membership.Member.SecondFactor {
		return Home{}, apperr.New(apperr.Conflict, "set up a second factor on your own account before requiring one of every member")
	}
	// What changes, for the activity log: a form sends every setting.
	home := g.Membership.Home
	changed := Settings{}
	var sealed []byte
	if c.Name != nil {
		n, err := CheckName("name", *c.Name)
		if err != nil {
			return Home{}, err
		}
		dk, err := s.dataKey(home)
		if err != nil {
			return Home{}, err
		}
		sealed = dk.Seal([]byte(n), homeNameAD(homeID))
		if old, err := dk.Open(home.NameSealed, homeNameAD(homeID)); err != nil || string(old) != n {
			changed.Name = &n
		}
	}
	if c.RetentionDays != nil && *c.RetentionDays != home.RetentionDays {
		changed.RetentionDays = c.RetentionDays
	}
	if c.RequireSecondFactor != nil && *c.RequireSecondFactor != home.RequireSecondFactor {
		changed.RequireSecondFactor = c.RequireSecondFactor
	}
	if c.Name != nil || c.RetentionDays != nil {
		if err := s.store.UpdateHome(ctx, homeID, sealed, c.RetentionDays); err != nil {
			return Home{}, fmt.Errorf("update home: %w", err)
		}
	}
	if c.RequireSecondFactor != nil && *c.RequireSecondFactor != g.Membership.Home.RequireSecondFactor {
		if err := s.store.SetRequireSecondFactor(ctx, homeID, *c.RequireSecondFactor); err != nil {
			return Home{}, fmt.Errorf("set second-factor requirement: %w", err)
		}
	}
	if e := personEntry(p, AuditSettings); changed != (Settings{}) {
		e.Detail = settingsDetail(changed)
		if err := s.note(ctx, homeID, e); err != nil {
			return Home{}, err
		}
	}
	return s.Get(ctx, p, homeID)
}

// Get returns one home p belongs to.
func (s *Service) Get(ctx context.Context, p authz.Principal, homeID string) (Home, error) {
	g, err := s.authz.Home(ctx, p, homeID, authz.ViewHome)
	if err != nil {
		return Home{}, err
	}
	return s.view(g.Membership)
}

func (s *Service) view(m domain.Membership) (Home, error) {
	dk, err := s.dataKey(m.Home)
	if err != nil {
		return Home{}, err
	}
	name, err := dk.Open(m.Home.NameSealed, homeNameAD(m.Home.ID))
	if err != nil {
		return Home{}, fmt.Errorf("open name of home %s: %w", m.Home.ID, err)
	}
	return Home{ID: m.Home.ID, Name: string(name), Role: m.Member.Role, RetentionDays: m.Home.RetentionDays,
		RequireSecondFactor: m.Home.RequireSecondFactor, NeedsSecondFactor: m.SecondFactorMissing()}, nil
}

func (s *Service) dataKey(h domain.Home) (keys.DataKey, error) {
	dk, err := s.keys.UnwrapDataKey(h.WrappedDataKey, h.ID)
	if err != nil {
		return keys.DataKey{}, fmt.Errorf("unwrap data key of home %s: %w", h.ID, err)
	}
	return dk, nil
}

// homeByID reads a home the caller has already been authorized for.
func (s *Service) homeByID(ctx context.Context, homeID string) (domain.Home, error) {
	h, err := s.store.HomeByID(ctx, homeID)
	if errors.Is(err, store.ErrNotFound) {
		return domain.Home{}, apperr.NotFoundf("home")
	}
	if err != nil {
		return domain.Home{}, fmt.Errorf("read home: %w", err)
	}
	return h, nil
}
