package authz

import (
	"context"
	"time"
)

// SetPassword sets a password and ends the account's other sessions, then
// tells the nodes.
func (s *AnnouncingStore) SetPassword(ctx context.Context, accountID, hash, keepSession string) error {
	err := s.Store.SetPassword(ctx, accountID, hash, keepSession)
	s.changed(ctx)
	if err != nil {
		return err
	}
	s.notify(ctx, GrantNotice{AccountID: accountID})
	return nil
}

// ResetPassword takes a reset token, sets the password and ends every
// session of its account, then tells the nodes.
func (s *AnnouncingStore) ResetPassword(ctx context.Context, tokenHash []byte, passwordHash string, now time.Time) (string, error) {
	accountID, err := s.Store.ResetPassword(ctx, tokenHash, passwordHash, now)
	s.changed(ctx)
	if err != nil {
		return "", err
	}
	s.notify(ctx, GrantNotice{AccountID: accountID})
	return accountID, nil
}
