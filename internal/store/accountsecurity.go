package store

import (
	"context"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// Passwords keeps what changing and resetting a password needs, and the
// devices each account logged in from.
type Passwords interface {
	// SetPassword sets an account's password hash and, in the same
	// transaction, ends every session of the account but keepSession (""
	// ends them all), removes its pending password resets and bumps its
	// part of the grant version. ErrNotFound if there is no such account.
	SetPassword(ctx context.Context, accountID, hash, keepSession string) error
	CreatePasswordReset(ctx context.Context, r domain.PasswordReset) error
	// PasswordResetByHash reads a reset that has not expired at now.
	PasswordResetByHash(ctx context.Context, tokenHash []byte, now time.Time) (domain.PasswordReset, error)
	// ResetPassword takes the reset of tokenHash, if it has not expired at
	// now, and sets its account's password hash as SetPassword does with
	// no session kept, in one transaction: of concurrent calls with one
	// token, one succeeds. It returns the account; ErrNotFound for a
	// missing, used or expired token (nothing changes then).
	ResetPassword(ctx context.Context, tokenHash []byte, passwordHash string, now time.Time) (accountID string, err error)
	// DeleteExpiredPasswordResets removes resets that expired by now.
	DeleteExpiredPasswordResets(ctx context.Context, now time.Time) (int, error)
	// RememberDevice records that d.AccountID logged in from d.Hash at
	// d.LastSeen. isNew: the account had not logged in from it before;
	// hadOthers: the account had logged in from some other device.
	RememberDevice(ctx context.Context, d domain.KnownDevice) (isNew, hadOthers bool, err error)
	// ForgetDevicesBefore removes devices last seen before t.
	ForgetDevicesBefore(ctx context.Context, t time.Time) (int, error)
}

// Outbox keeps mail waiting to be sent.
type Outbox interface {
	EnqueueMail(ctx context.Context, m domain.Mail) error
	// ClaimMail claims up to limit mails due at now that nobody holds
	// (claimed_until not after now), holding them until until, and returns
	// them oldest due first. Concurrent claims, on any node, never return
	// the same mail.
	ClaimMail(ctx context.Context, now, until time.Time, limit int) ([]domain.Mail, error)
	// RetryMail releases a claimed mail, due again at next after attempts
	// attempts. ErrNotFound if it is gone.
	RetryMail(ctx context.Context, id string, attempts int, next time.Time) error
	// DeleteMail removes a mail (sent, or given up on). ErrNotFound if it
	// is gone.
	DeleteMail(ctx context.Context, id string) error
}
