package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// ThrottleHit counts one failure for key in one statement: the upsert locks
// the key's row, so concurrent hits from every node each count. A key whose
// window has ended starts a new one at now.
func (s *Store) ThrottleHit(ctx context.Context, key []byte, now time.Time, window time.Duration) (int, time.Time, error) {
	var count int
	var end int64
	err := s.pool.QueryRow(ctx,
		`INSERT INTO throttle (key, count, window_end) VALUES ($1, 1, $2)
		 ON CONFLICT (key) DO UPDATE SET
		   count = CASE WHEN throttle.window_end <= $3 THEN 1 ELSE throttle.count + 1 END,
		   window_end = CASE WHEN throttle.window_end <= $3 THEN excluded.window_end ELSE throttle.window_end END
		 RETURNING count, window_end`,
		key, ts(now.Add(window)), ts(now)).Scan(&count, &end)
	if err != nil {
		return 0, time.Time{}, wrap("throttle hit", err)
	}
	return count, fromTS(end), nil
}

// ThrottleCount reads key's count in the window containing now; an ended
// window counts 0.
func (s *Store) ThrottleCount(ctx context.Context, key []byte, now time.Time) (int, time.Time, error) {
	var count int
	var end int64
	err := s.pool.QueryRow(ctx, `SELECT count, window_end FROM throttle WHERE key = $1 AND window_end > $2`, key, ts(now)).Scan(&count, &end)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, wrap("throttle count", err)
	}
	return count, fromTS(end), nil
}

// ThrottleReset forgets key's failures.
func (s *Store) ThrottleReset(ctx context.Context, key []byte) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM throttle WHERE key = $1`, key)
	return wrap("throttle reset", err)
}

// ThrottleUndo takes back one hit of key in the window containing now.
func (s *Store) ThrottleUndo(ctx context.Context, key []byte, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE throttle SET count = count - 1 WHERE key = $1 AND window_end > $2 AND count > 0`, key, ts(now))
	return wrap("throttle undo", err)
}
