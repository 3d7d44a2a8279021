package authz

import (
	"context"

	"github.com/camvault/camvault/internal/domain"
)

// A second factor set up or taken away, and a home's requirement of one,
// change what a member may see (docs/design/second-factors.md): each is
// propagated and announced like a logout or a change of members, so the
// next request on every node decides with it, and live sessions are
// re-decided at once.

// accountChanged propagates a change of an account's grants and, if it
// committed, announces it.
func (s *AnnouncingStore) accountChanged(ctx context.Context, accountID string, err error) error {
	s.changed(ctx)
	if err != nil {
		return err
	}
	s.notify(ctx, GrantNotice{AccountID: accountID})
	return nil
}

// ConfirmTOTP turns TOTP on, then tells the nodes.
func (s *AnnouncingStore) ConfirmTOTP(ctx context.Context, accountID string, step int64) error {
	return s.accountChanged(ctx, accountID, s.Store.ConfirmTOTP(ctx, accountID, step))
}

// DeleteTOTP turns TOTP off, then tells the nodes.
func (s *AnnouncingStore) DeleteTOTP(ctx context.Context, accountID string) error {
	return s.accountChanged(ctx, accountID, s.Store.DeleteTOTP(ctx, accountID))
}

// CreatePasskey adds a passkey, then tells the nodes.
func (s *AnnouncingStore) CreatePasskey(ctx context.Context, p domain.Passkey) error {
	return s.accountChanged(ctx, p.AccountID, s.Store.CreatePasskey(ctx, p))
}

// DeletePasskey removes a passkey, then tells the nodes.
func (s *AnnouncingStore) DeletePasskey(ctx context.Context, accountID, id string) error {
	return s.accountChanged(ctx, accountID, s.Store.DeletePasskey(ctx, accountID, id))
}

// SetRequireSecondFactor sets a home's requirement, then tells the nodes:
// every member's grant of the home changed.
func (s *AnnouncingStore) SetRequireSecondFactor(ctx context.Context, homeID string, on bool) error {
	err := s.Store.SetRequireSecondFactor(ctx, homeID, on)
	s.changed(ctx)
	if err != nil {
		return err
	}
	s.notify(ctx, GrantNotice{HomeID: homeID})
	return nil
}
