package store

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// Accounts keeps accounts.
type Accounts interface {
	// CreateAccount inserts a; ErrConflict if the email index is taken.
	// (An account of the same email indexed under another generation is
	// the caller's to look for first.)
	CreateAccount(ctx context.Context, a domain.Account) error
	AccountByID(ctx context.Context, id string) (domain.Account, error)
	// AccountByEmailIndex finds the account whose email index is one of
	// indexes (the email's index under each master key generation, the
	// current one first); of several, the one earliest in the list. One
	// indexed lookup.
	AccountByEmailIndex(ctx context.Context, indexes ...[]byte) (domain.Account, error)
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

// FirstByIndex is, of the accounts a backend found for
// AccountByEmailIndex, the one whose index comes first in indexes;
// ErrNotFound when there is none.
func FirstByIndex(found []domain.Account, indexes [][]byte) (domain.Account, error) {
	for _, ix := range indexes {
		for _, a := range found {
			if bytes.Equal(a.EmailIndex, ix) {
				return a, nil
			}
		}
	}
	return domain.Account{}, fmt.Errorf("account by email index: %w", ErrNotFound)
}
