// Package authz is the one place camvault decides who may do what. Every
// handler for every protocol asks it; no handler and no SQL query decides on
// its own. Decisions are made from the store on every request
// (invariant 3), so a revocation is seen by the very next request.
package authz

import "github.com/camvault/camvault/internal/domain"

// Principal is who is making a request, as established by its credential
// and nothing else.
type Principal struct {
	Kind      domain.PrincipalKind
	AccountID string // person (and integration acting for a person)
	SessionID string // person
	DeviceID  string // device
	HomeID    string // device: the home it was paired into
}

// IsPerson reports whether p is a logged-in person.
func (p Principal) IsPerson() bool { return p.Kind == domain.PrincipalPerson && p.AccountID != "" }

// IsDevice reports whether p is a paired device.
func (p Principal) IsDevice() bool { return p.Kind == domain.PrincipalDevice && p.DeviceID != "" }
