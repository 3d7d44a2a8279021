package domain

import "time"

// Mail is one message waiting in the outbox. It names the account it goes
// to, never an address: the address is opened from the account's sealed
// email when the mail is sent. Its subject and body are sealed (a reset
// link is a secret), bound to the row's ID.
type Mail struct {
	ID            string
	AccountID     string
	Sealed        []byte
	CreatedAt     time.Time
	NextAttemptAt time.Time
	Attempts      int
	// ClaimedUntil: a node sending the mail holds it until then (zero:
	// nobody), so two nodes never send it at once.
	ClaimedUntil time.Time
}

// PasswordReset is a pending password reset. Only its token's hash is kept.
type PasswordReset struct {
	TokenHash []byte
	AccountID string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// KnownDevice is a device an account logged in from, by a keyed hash of
// what identifies it (docs/design/mail.md, "New devices").
type KnownDevice struct {
	AccountID string
	Hash      []byte
	FirstSeen time.Time
	LastSeen  time.Time
}
