package authz

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/lease"
	"github.com/camvault/camvault/internal/store"
)

// Action is something a person may try to do in a home.
type Action int

// The actions.
const (
	ViewHome           Action = iota // see the home, its cameras and their events
	ManageMembers                    // add, change or remove members
	ManageDevices                    // pair, rename, keep warm or unpair cameras
	DeleteEvents                     // delete events
	WatchLive                        // watch a camera live
	ManageIntegrations               // add or remove a home's webhooks
)

func (a Action) String() string {
	switch a {
	case ViewHome:
		return "view home"
	case ManageMembers:
		return "manage members"
	case ManageDevices:
		return "manage cameras"
	case DeleteEvents:
		return "delete events"
	case WatchLive:
		return "watch live"
	case ManageIntegrations:
		return "manage integrations"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Store is what authorization reads: memberships, devices and partners'
// links.
type Store interface {
	Member(ctx context.Context, homeID, accountID string) (domain.Membership, error)
	DeviceByID(ctx context.Context, id string) (domain.Device, error)
	GrantVersion(ctx context.Context, homeID, accountID string) (int64, error)
	PartnerLink(ctx context.Context, id string) (domain.PartnerLink, error)
}

// Grant is the outcome of a decision: the membership it was made from,
// including the grants version it reflects, and for a partner the cameras
// the person consented to.
type Grant struct {
	Membership domain.Membership
	// consent, when not nil, narrows the grant to these cameras: a
	// partner sees what the person consented to and may see now, never
	// more (invariant 12).
	consent []string
}

// Role is the member's role in the home.
func (g Grant) Role() domain.Role { return g.Membership.Member.Role }

// HomeID is the home the grant is for.
func (g Grant) HomeID() string { return g.Membership.Home.ID }

// Version is the home's grants version the decision was made from.
func (g Grant) Version() int64 { return g.Membership.Home.GrantsVersion }

// CanSeeDevice reports whether the grant covers one camera of its home: all
// of them, unless the member is a viewer limited to a list. A limited list
// that has become empty (its cameras were removed) covers none: a limit
// never widens into "everything".
//
// A partner's grant covers only the cameras that are both consented to and
// covered by the person's own grant.
func (g Grant) CanSeeDevice(deviceID string) bool {
	if g.consent != nil && !slices.Contains(g.consent, deviceID) {
		return false
	}
	m := g.Membership.Member
	if m.Role == domain.RoleViewer && m.Devices != nil {
		return slices.Contains(m.Devices, deviceID)
	}
	return true
}

// Decider makes authorization decisions from the store.
type Decider struct {
	store  Store
	cache  Cache       // nil: every decision from the store
	bypass func() bool // true: the breaker is open, neither cache nor memory is used
	// members and devices keep decisions in process memory while the
	// node's lease holds (nil: never); see WithLease.
	members *lease.Table[memberKey, domain.Membership]
	devices *lease.Table[memberKey, deviceGrant]
}

// New returns a Decider reading from s.
func New(s Store) *Decider { return &Decider{store: s} }

// Home decides whether p may do action in home. A person who is not a
// member gets the same not-found as for a home that does not exist; a member
// whose role does not allow the action gets forbidden.
//
// A partner never decides at the level of a home: it sees cameras, one by
// one (Device, PartnerDevices).
func (d *Decider) Home(ctx context.Context, p Principal, homeID string, action Action) (Grant, error) {
	if !p.IsPerson() {
		return Grant{}, apperr.NotFoundf("home")
	}
	m, err := d.member(ctx, homeID, p.AccountID)
	if err != nil {
		return Grant{}, notFound(err, "home", "read membership")
	}
	g := Grant{Membership: m}
	if m.SecondFactorMissing() {
		return Grant{}, ErrSecondFactorRequired
	}
	if !Allows(g.Role(), action) {
		return Grant{}, apperr.New(apperr.Forbidden, "your role in this home does not allow you to %s", action)
	}
	return g, nil
}

// Device decides whether p may do action on a camera. Someone who may not
// see the camera gets the same not-found as for one that does not exist.
//
// A partner is decided as the intersection of its link and the person's
// current grant: the link must exist, its partner be enabled, the camera be
// one the person consented to (and, to watch live, live consented to), and
// the person must still see the camera now. Anything else answers as a
// missing camera; a partner may only view and watch.
func (d *Decider) Device(ctx context.Context, p Principal, deviceID string, action Action) (domain.Device, Grant, error) {
	var consent []string
	switch {
	case p.IsPartner():
		link, err := d.partnerLink(ctx, p)
		if err != nil {
			return domain.Device{}, Grant{}, err
		}
		if (action != ViewHome && action != WatchLive) || (action == WatchLive && !link.Live) || !slices.Contains(link.Devices, deviceID) {
			return domain.Device{}, Grant{}, apperr.NotFoundf("device")
		}
		consent = link.Devices
	case !p.IsPerson():
		return domain.Device{}, Grant{}, apperr.NotFoundf("device")
	}
	dev, m, err := d.deviceMember(ctx, deviceID, p.AccountID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return domain.Device{}, Grant{}, fmt.Errorf("read device and membership: %w", err)
	}
	g := Grant{Membership: m, consent: consent}
	if err != nil || !g.CanSeeDevice(dev.ID) {
		// Not a member, or a viewer not given this camera: not found, never
		// a hint that the camera exists.
		return domain.Device{}, Grant{}, apperr.NotFoundf("device")
	}
	if m.SecondFactorMissing() {
		if p.IsPartner() {
			// A partner acts for the person: it sees what they may see now.
			return domain.Device{}, Grant{}, apperr.NotFoundf("device")
		}
		return domain.Device{}, Grant{}, ErrSecondFactorRequired
	}
	if !Allows(g.Role(), action) {
		return domain.Device{}, Grant{}, apperr.New(apperr.Forbidden, "your role in this home does not allow you to %s", action)
	}
	return dev, g, nil
}

// partnerLink reads the link a partner's token is bound to, from the store
// on every decision: an unlink or a disabled partner is seen by the very
// next request. A link that is gone, of another partner or account, or of
// a disabled partner answers as a missing camera.
func (d *Decider) partnerLink(ctx context.Context, p Principal) (domain.PartnerLink, error) {
	link, err := d.store.PartnerLink(ctx, p.LinkID)
	if err != nil {
		return domain.PartnerLink{}, notFound(err, "device", "read partner link")
	}
	if link.PartnerID != p.PartnerID || link.AccountID != p.AccountID || link.PartnerDisabled {
		return domain.PartnerLink{}, apperr.NotFoundf("device")
	}
	return link, nil
}

// DeviceGrant is a camera and the grant it was decided on.
type DeviceGrant struct {
	Device domain.Device
	Grant  Grant
}

// PartnerDevices decides every camera of a partner's link, in the link's
// order, and returns those the partner may see now: the consented cameras
// the person still sees. For anyone but a partner it answers not found.
func (d *Decider) PartnerDevices(ctx context.Context, p Principal) ([]DeviceGrant, error) {
	if !p.IsPartner() {
		return nil, apperr.NotFoundf("link")
	}
	link, err := d.partnerLink(ctx, p)
	if err != nil {
		return nil, apperr.NotFoundf("link")
	}
	out := make([]DeviceGrant, 0, len(link.Devices))
	for _, id := range link.Devices {
		dev, g, err := d.Device(ctx, p, id, ViewHome)
		if apperr.CodeOf(err) == apperr.NotFound {
			continue // the person no longer sees it, or the link just went
		}
		if err != nil {
			return nil, err
		}
		out = append(out, DeviceGrant{Device: dev, Grant: g})
	}
	return out, nil
}

// ErrSecondFactorRequired refuses a member of a home that requires a
// second factor when their account has none (docs/design/second-factors.md).
// Only a member ever gets it: anyone else gets the not-found of a home
// that does not exist, before the requirement is looked at.
var ErrSecondFactorRequired = apperr.New(apperr.SecondFactorRequired,
	"this home requires a second factor of its members: set up an authenticator app or a passkey on your account page")

// Allows reports whether a member with role r may do action a in their
// home: the role rules of docs/design/authorization.md, kept only here.
// Decisions use it; so do pages that offer only what a member may do.
func Allows(r domain.Role, a Action) bool {
	switch r {
	case domain.RoleOwner, domain.RoleAdmin:
		return true
	case domain.RoleViewer:
		return a == ViewHome || a == WatchLive
	}
	return false
}
