// Package authz is the one place camvault decides who may do what. Every
// handler for every protocol asks it; no handler and no SQL query decides on
// its own. Decisions are made from the store on every request (DESIGN.md
// invariant 3), so a revocation is seen by the very next request.
package authz

// Kind is the kind of authenticated principal.
type Kind string

// The kinds of principal.
const (
	Person      Kind = "person"
	Device      Kind = "device"
	Integration Kind = "integration"
)

// Principal is who is making a request, as established by its credential
// and nothing else.
type Principal struct {
	Kind      Kind
	AccountID string // person (and integration acting for a person)
	SessionID string // person
	DeviceID  string // device
	HomeID    string // device: the home it was paired into
}

// IsPerson reports whether p is a logged-in person.
func (p Principal) IsPerson() bool { return p.Kind == Person && p.AccountID != "" }

// IsDevice reports whether p is a paired device.
func (p Principal) IsDevice() bool { return p.Kind == Device && p.DeviceID != "" }
