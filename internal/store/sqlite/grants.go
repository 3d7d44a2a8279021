package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// GrantVersion reads an account's grant version in a home: the home's
// grants version plus the account's, in one indexed read.
func (s *Store) GrantVersion(ctx context.Context, homeID, accountID string) (int64, error) {
	var v int64
	err := s.grantVersion.QueryRowContext(ctx, accountID, homeID).Scan(&v)
	return v, wrap("grant version", err)
}

const grantVersionQuery = `SELECT h.grants_version + COALESCE((SELECT a.grants_version FROM accounts a WHERE a.id = ?), 0)
	FROM homes h WHERE h.id = ?`

// bumpAccountGrants moves an account's part of its grant version and logs
// the change. A missing account is not an error: it has no grants to
// invalidate.
func bumpAccountGrants(ctx context.Context, tx *sql.Tx, accountID string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET grants_version = grants_version + 1 WHERE id = ?`, accountID); err != nil {
		return wrap("bump account grant version", err)
	}
	return recordChange(ctx, tx, "", accountID)
}

// Breaker reads a breaker; one never set is closed.
func (s *Store) Breaker(ctx context.Context, name string) (domain.Breaker, error) {
	b := domain.Breaker{Name: name}
	var changed int64
	err := s.read.QueryRowContext(ctx, `SELECT open, reason, changed_at, trips FROM breaker WHERE name = ?`, name).
		Scan(&b.Open, &b.Reason, &changed, &b.Trips)
	if errors.Is(err, sql.ErrNoRows) {
		return b, nil
	}
	if err != nil {
		return domain.Breaker{}, wrap("read breaker", err)
	}
	b.ChangedAt = fromTS(changed)
	return b, nil
}

// SetBreaker opens or closes a breaker, counting trips; a breaker already
// in the asked state is left as it is.
func (s *Store) SetBreaker(ctx context.Context, name string, open bool, reason string, at time.Time) (bool, error) {
	var changed bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var cur bool
		err := tx.QueryRowContext(ctx, `SELECT open FROM breaker WHERE name = ?`, name).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return wrap("read breaker", err)
		}
		if cur == open {
			return nil // a breaker never set is closed
		}
		trips := 0
		if open {
			trips = 1
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO breaker (name, open, reason, changed_at, trips) VALUES (?, ?, ?, ?, ?)
			 ON CONFLICT (name) DO UPDATE SET open = excluded.open, reason = excluded.reason,
			   changed_at = excluded.changed_at, trips = breaker.trips + excluded.trips`,
			name, open, reason, ts(at), trips); err != nil {
			return wrap("set breaker", err)
		}
		changed = true
		return nil
	})
	return changed, err
}
