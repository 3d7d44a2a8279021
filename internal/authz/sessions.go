package authz

import (
	"context"
	"fmt"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// SessionLister is what LoginSessionAlive needs of the store.
type SessionLister interface {
	ListSessions(ctx context.Context, accountID string) ([]domain.Session, error)
}

// LoginSessionAlive reports whether p's login session still exists and has
// not expired at now. Streams that outlive a request (live view, the event
// stream) read it when p's grant version moved, since logging out moves it.
func LoginSessionAlive(ctx context.Context, st SessionLister, p Principal, now time.Time) (bool, error) {
	list, err := st.ListSessions(ctx, p.AccountID)
	if err != nil {
		return false, fmt.Errorf("read login sessions: %w", err)
	}
	for _, se := range list {
		if se.ID == p.SessionID {
			return se.ExpiresAt.IsZero() || now.Before(se.ExpiresAt), nil
		}
	}
	return false, nil
}
