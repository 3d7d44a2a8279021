// Package authz is the one place camvault decides who may do what. Every
// handler for every protocol asks it; no handler and no SQL query decides on
// its own. Decisions are made from the store on every request, or from the
// node's memory of it while the node's lease on the store's change log
// holds (invariant 3; docs/design/leases.md), so a revocation is seen by
// the very next request.
package authz

import "github.com/camvault/camvault/internal/domain"

// Principal is who is making a request, as established by its credential
// and nothing else.
type Principal struct {
	Kind      domain.PrincipalKind
	AccountID string // person, and the person a partner acts for
	SessionID string // person
	DeviceID  string // device
	HomeID    string // device: the home it was paired into
	PartnerID string // integration: the partner (its OAuth client ID)
	LinkID    string // integration: the link its token is bound to
}

// IsPerson reports whether p is a logged-in person.
func (p Principal) IsPerson() bool { return p.Kind == domain.PrincipalPerson && p.AccountID != "" }

// IsDevice reports whether p is a paired device.
func (p Principal) IsDevice() bool { return p.Kind == domain.PrincipalDevice && p.DeviceID != "" }

// IsPartner reports whether p is a partner acting through a person's link.
func (p Principal) IsPartner() bool {
	return p.Kind == domain.PrincipalIntegration && p.AccountID != "" && p.PartnerID != "" && p.LinkID != ""
}

// ActorID is who p is in an audit entry or an incident: the camera for a
// device, the partner for an integration (never the person it acts for:
// the household must see that a partner looked), the account for a person.
func (p Principal) ActorID() string {
	switch p.Kind {
	case domain.PrincipalDevice:
		return p.DeviceID
	case domain.PrincipalIntegration:
		return p.PartnerID
	}
	return p.AccountID
}
