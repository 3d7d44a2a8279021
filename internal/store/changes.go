package store

import (
	"context"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// Changes is the change log and the roster of nodes that answer from
// memory (docs/design/leases.md).
//
// Every method that changes what a home's members may see or ends an
// account's sessions appends to the log in its own transaction:
// PutMember, DeleteMember, DeleteDevice, MarkEventDeleted and
// MarkExpiredEvents name the home; DeleteSession and
// DeleteAccountSessions the account. Sequence numbers have no gaps and
// follow commit order: a reader that saw seq n has seen every change
// before it.
type Changes interface {
	// ChangesSince returns, from one snapshot, the log's latest sequence
	// number and at most limit changes after seq, oldest first. Pruned
	// changes are gone: a first change after seq+1, or none while latest
	// is past seq, says some were missed.
	ChangesSince(ctx context.Context, seq int64, limit int) (latest int64, changes []domain.Change, err error)
	// PruneChanges removes changes made before t and returns how many.
	PruneChanges(ctx context.Context, before time.Time) (int, error)
	// PutLease records that node answers from memory until expires, at
	// the latest; DropLease removes it (a node shutting down).
	PutLease(ctx context.Context, node string, expires time.Time) error
	DropLease(ctx context.Context, node string) error
	// Leases lists the nodes whose lease expires after t.
	Leases(ctx context.Context, after time.Time) ([]string, error)
}
