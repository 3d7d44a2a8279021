package domain

import "time"

// TOTP is an account's time-based one-time password enrolment (RFC 6238).
// The secret is sealed under the master key, naming the account.
type TOTP struct {
	AccountID    string
	SecretSealed []byte
	// Confirmed: the person proved their authenticator has the secret;
	// only then does a login need a code.
	Confirmed bool
	// LastStep is the last time step whose code was accepted (0: none):
	// a code of it or an earlier step is never accepted again.
	LastStep  int64
	CreatedAt time.Time
}

// Passkey is a WebAuthn credential of an account. Its public key is not a
// secret; what ties it to the account is the row and the user handle the
// authenticator returns, which must name the same account.
type Passkey struct {
	ID           string
	AccountID    string
	CredentialID []byte
	// Credential is the credential record as the WebAuthn library keeps it
	// (public key, flags, authenticator), JSON.
	Credential []byte
	// SignCount is the authenticator's signature counter at last use; a
	// later use must show a greater one (unless the authenticator keeps
	// none, 0 always).
	SignCount  uint32
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used to log in
}

// WebAuthnChallenge is a WebAuthn ceremony in progress: its challenge and
// what the finish must check, kept in the store so any node can finish it,
// used once.
type WebAuthnChallenge struct {
	ID        string
	AccountID string // "" for a passwordless login
	Purpose   string // "register" or "login"
	Data      []byte
	ExpiresAt time.Time
}

// SecondFactorMissing reports whether m's home requires a second factor of
// its members and m's account has none: such a member is refused the
// home's data until they set one up.
func (m Membership) SecondFactorMissing() bool {
	return m.Home.RequireSecondFactor && !m.Member.SecondFactor
}
