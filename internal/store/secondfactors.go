package store

import (
	"context"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// SecondFactors keeps TOTP enrolments, recovery codes, passkeys and
// WebAuthn ceremonies in progress (docs/design/second-factors.md). Every
// change that gives an account its first second factor or takes away its
// last bumps the account's part of its grant version and logs the change,
// like a logout: a home that requires a second factor sees it on the very
// next request, on every node.
type SecondFactors interface {
	// PutTOTP starts a TOTP enrolment: it replaces an unconfirmed one of
	// the account, and its recovery codes by codeHashes, in one
	// transaction. ErrConflict, and nothing changes, while the account has
	// a confirmed one.
	PutTOTP(ctx context.Context, t domain.TOTP, codeHashes [][]byte) error
	// TOTP reads an account's enrolment; ErrNotFound if none.
	TOTP(ctx context.Context, accountID string) (domain.TOTP, error)
	// ConfirmTOTP marks the account's enrolment confirmed with step as its
	// last accepted time step, if it is unconfirmed; ErrNotFound if there
	// is no unconfirmed one.
	ConfirmTOTP(ctx context.Context, accountID string, step int64) error
	// UseTOTPStep records step as the last accepted time step of the
	// account's confirmed enrolment if it is later than the one recorded,
	// in one statement; ErrNotFound (a replay, or no confirmed enrolment)
	// otherwise. Of concurrent uses of one step, one succeeds.
	UseTOTPStep(ctx context.Context, accountID string, step int64) error
	// UseRecoveryCode removes the account's recovery code of that hash;
	// ErrNotFound if it has none (never issued, or used). Of concurrent
	// uses of one code, one succeeds.
	UseRecoveryCode(ctx context.Context, accountID string, codeHash []byte) error
	// RecoveryCodesLeft counts the account's unused recovery codes.
	RecoveryCodesLeft(ctx context.Context, accountID string) (int, error)
	// DeleteTOTP removes the account's enrolment and recovery codes;
	// ErrNotFound if it had none.
	DeleteTOTP(ctx context.Context, accountID string) error

	// CreatePasskey inserts a passkey; ErrConflict if its credential ID is
	// registered already (to any account).
	CreatePasskey(ctx context.Context, p domain.Passkey) error
	// Passkeys lists an account's passkeys, oldest first.
	Passkeys(ctx context.Context, accountID string) ([]domain.Passkey, error)
	// PasskeyByCredentialID finds a passkey by its credential ID;
	// ErrNotFound if none.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (domain.Passkey, error)
	// UsePasskey records a login with passkey id: its new sign count and
	// credential record, if the count is greater than the one recorded (or
	// both are 0: an authenticator without a counter); ErrNotFound
	// otherwise (a cloned authenticator, or a replay).
	UsePasskey(ctx context.Context, id string, signCount uint32, credential []byte, at time.Time) error
	// DeletePasskey removes one passkey of an account; ErrNotFound if the
	// account has no such passkey.
	DeletePasskey(ctx context.Context, accountID, id string) error

	// PutChallenge keeps a WebAuthn ceremony's challenge.
	PutChallenge(ctx context.Context, c domain.WebAuthnChallenge) error
	// TakeChallenge removes and returns the challenge id of the account
	// ("" for a passwordless login) and purpose if it has not expired at
	// now; ErrNotFound, whatever the reason, otherwise. Of concurrent
	// takes, one succeeds.
	TakeChallenge(ctx context.Context, id, accountID, purpose string, now time.Time) (domain.WebAuthnChallenge, error)
	// DeleteExpiredChallenges removes challenges expired at now.
	DeleteExpiredChallenges(ctx context.Context, now time.Time) (int, error)

	// SetRequireSecondFactor sets whether a home requires a second factor
	// of its members and bumps its grants version; ErrNotFound if there is
	// no such home.
	SetRequireSecondFactor(ctx context.Context, homeID string, on bool) error
}
