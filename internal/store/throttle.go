package store

import (
	"context"
	"time"
)

// Throttle counts failures per key in fixed windows (login attempts per
// account and per client address). A key's window starts at its first hit
// after the previous window ended. It lives in the store so every node sees
// the same counts.
type Throttle interface {
	// ThrottleHit adds one to key's count in the window that contains now
	// and returns the new count and when the window ends.
	ThrottleHit(ctx context.Context, key []byte, now time.Time, window time.Duration) (count int, resetAt time.Time, err error)
	// ThrottleCount returns key's count in the window containing now.
	ThrottleCount(ctx context.Context, key []byte, now time.Time) (count int, resetAt time.Time, err error)
	ThrottleReset(ctx context.Context, key []byte) error
	// ThrottleUndo takes back one hit of key in the window containing now
	// (an attempt counted before it was made, which turned out allowed);
	// a count never goes below 0.
	ThrottleUndo(ctx context.Context, key []byte, now time.Time) error
}
