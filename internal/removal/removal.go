// Package removal removes, in the background, the blobs that deleted
// records named: those of the homes of a deleted account, and expired
// exports (docs/design/deletion.md). The records go first, in the
// deleting transaction, which queues their blobs in the store; the queue
// outlives a restart, so removal resumes where it stopped, on any node.
// By the time a blob is queued its home's data key is already destroyed:
// removal frees the space, it is not what makes the blob unreadable.
package removal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/blob"
)

// Store is the queue of blobs to remove; store.Deletion is one.
type Store interface {
	DueBlobRemovals(ctx context.Context, now time.Time, limit int) ([]string, error)
	DropBlobRemovals(ctx context.Context, keys []string) error
}

// batch bounds one round: at most this many blobs are listed, removed
// (one at a time) and dropped from the queue.
const batch = 200

// Remover drains the queue of blobs to remove.
type Remover struct {
	store Store
	blobs blob.Store
	log   *slog.Logger
	now   func() time.Time
	every time.Duration
	wake  chan struct{}

	mu   sync.Mutex
	runs int // completed drains
}

// New returns a remover that drains the queue every interval and
// whenever woken.
func New(st Store, b blob.Store, log *slog.Logger, every time.Duration, now func() time.Time) *Remover {
	if every <= 0 {
		every = time.Minute
	}
	if now == nil {
		now = time.Now
	}
	r := &Remover{store: st, blobs: b, log: log, now: now, every: every, wake: make(chan struct{}, 1)}
	return r
}

// Wake asks for a drain soon (blobs were queued); it never blocks.
func (r *Remover) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Drain removes every blob due now and returns how many it removed. A
// blob already gone counts as removed: a drain stopped between removing
// a blob and dropping it from the queue is finished by the next one.
func (r *Remover) Drain(ctx context.Context) (int, error) {
	removed := 0
	for {
		keys, err := r.store.DueBlobRemovals(ctx, r.now(), batch)
		if err != nil {
			return removed, fmt.Errorf("due blob removals: %w", err)
		}
		for _, k := range keys {
			if err := r.blobs.Delete(ctx, k); err != nil && !errors.Is(err, blob.ErrNotFound) {
				return removed, fmt.Errorf("remove blob: %w", err)
			}
		}
		if len(keys) > 0 {
			if err := r.store.DropBlobRemovals(ctx, keys); err != nil {
				return removed, fmt.Errorf("drop blob removals: %w", err)
			}
		}
		removed += len(keys)
		if len(keys) < batch {
			return removed, nil
		}
	}
}

// Run drains the queue every interval and when woken, until ctx ends.
func (r *Remover) Run(ctx context.Context) {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		if n, err := r.Drain(ctx); err != nil && ctx.Err() == nil {
			r.log.WarnContext(ctx, "removing deleted blobs (will retry)", "err", err)
		} else if n > 0 {
			r.log.InfoContext(ctx, "removed deleted blobs", "count", n)
		}
		r.mu.Lock()
		r.runs++
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
	}
}

// Runs is how many drains Run completed.
func (r *Remover) Runs() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs
}
