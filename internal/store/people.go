package store

import (
	"context"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// Accounts keeps accounts.
type Accounts interface {
	// CreateAccount inserts a; ErrConflict if the email index is taken.
	CreateAccount(ctx context.Context, a domain.Account) error
	AccountByID(ctx context.Context, id string) (domain.Account, error)
	AccountByEmailIndex(ctx context.Context, index []byte) (domain.Account, error)
}

// Sessions keeps sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s domain.Session) error
	SessionByTokenHash(ctx context.Context, hash []byte) (domain.Session, error)
	// TouchSession records use of a session at the given time.
	TouchSession(ctx context.Context, id string, at time.Time) error
	ListSessions(ctx context.Context, accountID string) ([]domain.Session, error)
	// DeleteSession removes one session of an account and bumps the
	// account's part of its grant version; ErrNotFound if the account has
	// no such session.
	DeleteSession(ctx context.Context, accountID, sessionID string) error
	// DeleteAccountSessions removes every session of an account and bumps
	// the account's part of its grant version.
	DeleteAccountSessions(ctx context.Context, accountID string) error
	// DeleteExpiredSessions removes sessions that expired before t, or that
	// were last seen before idleBefore.
	DeleteExpiredSessions(ctx context.Context, t, idleBefore time.Time) (int, error)
}
