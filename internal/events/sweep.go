package events

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/blob"
)

const sweepBatch = 500

// tombstoneTTL is how long a deleted event's tombstone answers a camera
// that retries it: longer than any camera keeps an event queued offline.
const tombstoneTTL = 30 * 24 * time.Hour

// Sweep enforces retention and finishes deletions: events past their
// home's retention are marked deleted, then every deleted event's blobs are
// removed and its record becomes a tombstone; old tombstones go. It returns
// how many events it removed.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	for {
		n, err := s.store.MarkExpiredEvents(ctx, s.now(), sweepBatch)
		if err != nil {
			return 0, err
		}
		if n < sweepBatch {
			break
		}
	}
	removed := 0
	for {
		list, err := s.store.DeletedEvents(ctx, sweepBatch)
		if err != nil {
			return removed, err
		}
		for _, e := range list {
			if err := s.purge(ctx, e); err != nil {
				return removed, err
			}
			removed++
		}
		if len(list) < sweepBatch {
			break
		}
	}
	if _, err := s.store.DropTombstones(ctx, s.now().Add(-tombstoneTTL)); err != nil {
		return removed, err
	}
	return removed, nil
}

// RemoveOrphans removes blobs that no event record names and that were
// written more than minAge ago: what a crash between storing a blob and
// committing its record leaves. An upload in flight has blobs without a
// record too, so minAge must exceed the longest upload whenever another
// process may be uploading into the same blob store (several nodes);
// minAge 0 is only for a blob store this process alone uses, before it
// accepts uploads.
func (s *Service) RemoveOrphans(ctx context.Context, minAge time.Duration) (int, error) {
	var orphans []string
	cutoff := time.Now().Add(-minAge) // the blob store's clock is the wall clock, not the service's
	err := s.blobs.List(ctx, "h/", func(key string, written time.Time) error {
		if minAge > 0 && written.After(cutoff) {
			return nil // perhaps an upload another node is about to commit
		}
		parts := strings.Split(key, "/")
		if len(parts) != 5 {
			orphans = append(orphans, key)
			return nil
		}
		ok, err := s.store.EventRecordExists(ctx, parts[3])
		if err != nil {
			return err
		}
		if !ok {
			orphans = append(orphans, key)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("list blobs: %w", err)
	}
	for _, key := range orphans {
		if err := s.blobs.Delete(ctx, key); err != nil && !errors.Is(err, blob.ErrNotFound) {
			return 0, fmt.Errorf("remove orphan blob: %w", err)
		}
	}
	return len(orphans), nil
}

// RunOrphanSweeper removes orphans older than minAge every interval until
// ctx ends: on a blob store shared by several nodes, what a crashed node
// left is found without waiting for a restart.
func (s *Service) RunOrphanSweeper(ctx context.Context, interval, minAge time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := s.RemoveOrphans(ctx, minAge); err != nil && ctx.Err() == nil {
			s.log.Warn("removing orphan blobs", "err", err)
		} else if n > 0 {
			s.log.Info("removed orphan blobs", "count", n)
		}
	}
}

// RunSweeper sweeps every SweepInterval until ctx ends.
func (s *Service) RunSweeper(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		if n, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweeping events", "err", err)
		} else if n > 0 {
			s.log.Info("swept events", "removed", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
