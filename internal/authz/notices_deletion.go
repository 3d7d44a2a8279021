package authz

import (
	"context"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// DeleteAccount deletes an account and the homes it owns alone, waits
// until every node answering from memory has applied it (so none serves
// those homes or the account's sessions any more), then tells the nodes:
// every cached grant of the deleted homes and of the account goes, and
// live sessions on them are decided again and end.
func (s *AnnouncingStore) DeleteAccount(ctx context.Context, accountID string, emailIndexes [][]byte, at time.Time) (domain.AccountDeletion, error) {
	del, err := s.Store.DeleteAccount(ctx, accountID, emailIndexes, at)
	s.changed(ctx)
	if err != nil {
		return del, err
	}
	for _, h := range del.Homes {
		s.notify(ctx, GrantNotice{HomeID: h})
	}
	s.notify(ctx, GrantNotice{AccountID: accountID})
	return del, nil
}

// TransferOwnership hands a home over, then tells the nodes.
func (s *AnnouncingStore) TransferOwnership(ctx context.Context, homeID, from, to string) error {
	err := s.Store.TransferOwnership(ctx, homeID, from, to)
	s.changed(ctx)
	if err != nil {
		return err
	}
	s.notify(ctx, GrantNotice{HomeID: homeID})
	return nil
}
