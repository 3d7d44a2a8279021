// Package throttle limits repeated failures (wrong passwords, wrong pairing
// codes) per key, with counts kept in the store so every node sees them.
package throttle

import (
	"context"
	"fmt"
	"time"

	"github.com/camvault/camvault/internal/apperr"
)

// Store keeps the counts (see store.Throttle).
type Store interface {
	ThrottleHit(ctx context.Context, key []byte, now time.Time, window time.Duration) (int, time.Time, error)
	ThrottleReset(ctx context.Context, key []byte) error
	ThrottleUndo(ctx context.Context, key []byte, now time.Time) error
}

// Limiter allows at most Limit failures per key in each Window.
type Limiter struct {
	Store   Store
	Limit   int
	Window  time.Duration
	Message string // shown with the 429
}

// Attempt counts one attempt for key before it is made, in one store
// statement, and returns a Throttled error when that makes more than
// Limit in the window: concurrent attempts each see the count with their
// own added, so no more than Limit of them pass. On success the caller
// takes the attempt back (Undo) or forgets key's failures (Reset).
func (l Limiter) Attempt(ctx context.Context, key []byte, now time.Time) error {
	n, resetAt, err := l.Store.ThrottleHit(ctx, key, now, l.Window)
	if err != nil {
		return fmt.Errorf("count attempt: %w", err)
	}
	if n > l.Limit {
		e := apperr.New(apperr.Throttled, "%s", l.Message)
		e.RetryAfter = resetAt.Sub(now)
		return e
	}
	return nil
}

// Undo takes back an Attempt that turned out allowed, so only failures
// stay counted.
func (l Limiter) Undo(ctx context.Context, key []byte, now time.Time) error {
	if err := l.Store.ThrottleUndo(ctx, key, now); err != nil {
		return fmt.Errorf("take back an attempt: %w", err)
	}
	return nil
}

// Reset forgets key's failures.
func (l Limiter) Reset(ctx context.Context, key []byte) error {
	if err := l.Store.ThrottleReset(ctx, key); err != nil {
		return fmt.Errorf("reset throttle: %w", err)
	}
	return nil
}
