package store

import (
	"context"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// Deletion removes accounts and hands homes over (docs/design/deletion.md).
type Deletion interface {
	// DeleteAccount removes an account, in one transaction: every home it
	// owns (with its wrapped data key, members, cameras, pairing codes,
	// events, invitations, exports, audit chain and head), its
	// memberships of other homes (bumping their grants versions), its
	// sessions, partner links and exports, the invitations it made and
	// those pending to any of emailIndexes. Every blob the removed rows
	// named is queued in the blob removals, due at once. Each home and
	// the account are logged as changes. ErrConflict, and nothing
	// changes, while a home it owns has another member; ErrNotFound when
	// there is no such account.
	DeleteAccount(ctx context.Context, accountID string, emailIndexes [][]byte, at time.Time) (domain.AccountDeletion, error)
	// TransferOwnership makes to, an admin of the home, its owner, and
	// from, its owner, an admin, bumping the grants version.
	// ErrNotFound, and nothing changes, unless from owns the home and to
	// is one of its admins.
	TransferOwnership(ctx context.Context, homeID, from, to string) error
	// QueueBlobRemoval queues a blob for removal not before t (a blob
	// that may be being written: an export).
	QueueBlobRemoval(ctx context.Context, key string, queued, notBefore time.Time) error
	// DueBlobRemovals lists at most limit queued blobs due at now.
	DueBlobRemovals(ctx context.Context, now time.Time, limit int) ([]string, error)
	// DropBlobRemovals removes queued blobs from the queue (their blobs
	// are gone).
	DropBlobRemovals(ctx context.Context, keys []string) error
}

// Exports keeps people's exports of their data.
type Exports interface {
	// CreateExport inserts x (pending). ErrConflict, and nothing is
	// inserted, while x's account has another export pending or running.
	CreateExport(ctx context.Context, x domain.Export) error
	// ExportByID reads an export.
	ExportByID(ctx context.Context, id string) (domain.Export, error)
	// ClaimExport takes the oldest export that is pending, or running with
	// a claim that ended before now, marks it running with the claim
	// ending at until, and returns it; of concurrent claims on any node
	// one gets each export. ErrNotFound when there is none.
	ClaimExport(ctx context.Context, now, until time.Time) (domain.Export, error)
	// FinishExport records a running export ready (with its blob, size and
	// key) or failed, and removes its blob from the blob removals queued
	// when its writing began. ErrNotFound when it is no longer there or
	// no longer running.
	FinishExport(ctx context.Context, x domain.Export) error
	// DeleteExpiredExports removes exports that expired before now,
	// queueing their blobs for removal, and returns how many.
	DeleteExpiredExports(ctx context.Context, now time.Time) (int, error)
}
