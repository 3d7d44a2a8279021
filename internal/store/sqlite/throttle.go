package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ThrottleHit counts one failure for key. A key whose window has ended
// starts a new one at now.
func (s *Store) ThrottleHit(ctx context.Context, key []byte, now time.Time, window time.Duration) (int, time.Time, error) {
	var count int
	var end int64
	err := s.w.QueryRowContext(ctx,
		`INSERT INTO throttle (key, count, window_end) VALUES (?, 1, ?)
		 ON CONFLICT (key) DO UPDATE SET
		   count = CASE WHEN throttle.window_end <= ? THEN 1 ELSE throttle.count + 1 END,
		   window_end = CASE WHEN throttle.window_end <= ? THEN excluded.window_end ELSE throttle.window_end END
		 RETURNING count, window_end`,
		key, ts(now.Add(window)), ts(now), ts(now)).Scan(&count, &end)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("throttle hit: %w", mapErr(err))
	}
	return count, fromTS(end), nil
}

// ThrottleCount reads key's count in the window containing now.
func (s *Store) ThrottleCount(ctx context.Context, key []byte, now time.Time) (int, time.Time, error) {
	var count int
	var end int64
	err := s.r.QueryRowContext(ctx, `SELECT count, window_end FROM throttle WHERE key = ? AND window_end > ?`, key, ts(now)).Scan(&count, &end)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, time.Time{}, nil
		}
		return 0, time.Time{}, fmt.Errorf("throttle count: %w", mapErr(err))
	}
	return count, fromTS(end), nil
}

// ThrottleReset forgets key's failures.
func (s *Store) ThrottleReset(ctx context.Context, key []byte) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM throttle WHERE key = ?`, key); err != nil {
		return fmt.Errorf("throttle reset: %w", err)
	}
	return nil
}
