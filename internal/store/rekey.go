package store

import (
	"context"

	"github.com/camvault/camvault/internal/domain"
)

// Rekeying is what rotating the master key needs of the store
// (docs/design/keys.md, "Rotation"): how many stored values each
// generation made, and the values to rewrite read in pages and written back
// in batches, each only if it is still what was read, so a rotation can
// stop at any point and run again.
type Rekeying interface {
	KeyUse(ctx context.Context) (domain.KeyUse, error)
	// SealedValues lists up to limit non-empty values of a sealed column,
	// by row ID after the given one.
	SealedValues(ctx context.Context, col SealedColumn, afterID string, limit int) ([]SealedValue, error)
	// Reseal sets each row's value to New where it is still Old, in one
	// transaction, and returns how many it set.
	Reseal(ctx context.Context, col SealedColumn, changes []Reseal) (int, error)
	// AccountsAfter lists up to limit accounts by ID after the given one.
	AccountsAfter(ctx context.Context, afterID string, limit int) ([]domain.Account, error)
	// ReindexEmails sets each account's email index and its generation
	// where the index is still Old, in one transaction. An index another
	// account already holds is not set: that account is listed in
	// conflicts (two accounts of one email, indexed under two
	// generations). It returns how many it set.
	ReindexEmails(ctx context.Context, changes []EmailReindex) (set int, conflicts []string, err error)
	// InvitationsAfter lists up to limit invitations, pending or not, by
	// ID after the given one.
	InvitationsAfter(ctx context.Context, afterID string, limit int) ([]domain.Invitation, error)
	// ReindexInvitations sets each invitation's email index and its
	// generation where the index is still Old, in one transaction, and
	// returns how many it set. An invitation whose new index another
	// invitation of its home already has was replaced by that one (the
	// same email invited again while the old index was current): it is
	// removed, and listed in removed.
	ReindexInvitations(ctx context.Context, changes []EmailReindex) (set int, removed []string, err error)
}

// SealedColumn names a column of values sealed under the master key: the
// header of each names its generation.
type SealedColumn string

// The sealed columns a rotation rewrites.
const (
	HomeDataKeys   SealedColumn = "home data keys"         // homes.wrapped_data_key
	AccountEmails  SealedColumn = "account emails"         // accounts.email_sealed
	SessionClients SealedColumn = "session client details" // sessions.client_sealed
	TOTPSecrets    SealedColumn = "totp secrets"           // totp.secret_sealed
	PushEndpoints  SealedColumn = "push endpoints"         // push_subscriptions.sealed
	ServerSecrets  SealedColumn = "server secrets"         // server_secrets.sealed
)

// SealedValue is one row's sealed value.
type SealedValue struct {
	ID    string
	Value []byte
}

// Reseal is one row's new sealed value, set if the row still holds Old.
type Reseal struct {
	ID       string
	Old, New []byte
}

// EmailReindex is one account's or invitation's new email index, set if
// it still has Old.
type EmailReindex struct {
	ID       string
	Old, New []byte
	Gen      uint32
}
