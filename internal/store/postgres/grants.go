package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// GrantVersion reads an account's grant version in a home: the home's
// grants version plus the account's, in one indexed read.
func (s *Store) GrantVersion(ctx context.Context, homeID, accountID string) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx,
		`SELECT h.grants_version + COALESCE((SELECT a.grants_version FROM accounts a WHERE a.id = $1), 0)
		 FROM homes h WHERE h.id = $2`, accountID, homeID).Scan(&v)
	return v, wrap("grant version", err)
}

// bumpAccountGrants moves an account's part of its grant version and logs
// the change. A missing account is not an error: it has no grants to
// invalidate.
func bumpAccountGrants(ctx context.Context, tx pgx.Tx, accountID string) error {
	if _, err := tx.Exec(ctx, `UPDATE accounts SET grants_version = grants_version + 1 WHERE id = $1`, accountID); err != nil {
		return wrap("bump account grant version", err)
	}
	return recordChange(ctx, tx, "", accountID)
}

// Breaker reads a breaker; one never set is closed.
func (s *Store) Breaker(ctx context.Context, name string) (domain.Breaker, error) {
	b := domain.Breaker{Name: name}
	var changed int64
	err := s.pool.QueryRow(ctx, `SELECT open, reason, changed_at, trips FROM breaker WHERE name = $1`, name).
		Scan(&b.Open, &b.Reason, &changed, &b.Trips)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, nil
	}
	if err != nil {
		return domain.Breaker{}, wrap("read breaker", err)
	}
	b.ChangedAt = fromTS(changed)
	return b, nil
}

// SetBreaker opens or closes a breaker, counting trips; a breaker already
// in the asked state is left as it is. Each change is one conditional
// statement: of several nodes tripping at once, the first locks the row
// and the others, re-reading it after that commit, find it open already
// and change nothing.
func (s *Store) SetBreaker(ctx context.Context, name string, open bool, reason string, at time.Time) (bool, error) {
	var tag pgconn.CommandTag
	var err error
	if open {
		tag, err = s.pool.Exec(ctx,
			`INSERT INTO breaker (name, open, reason, changed_at, trips) VALUES ($1, true, $2, $3, 1)
			 ON CONFLICT (name) DO UPDATE SET open = true, reason = excluded.reason,
			   changed_at = excluded.changed_at, trips = breaker.trips + 1
			 WHERE NOT breaker.open`, name, reason, ts(at))
	} else {
		// A breaker never set is closed: nothing to insert.
		tag, err = s.pool.Exec(ctx,
			`UPDATE breaker SET open = false, reason = $2, changed_at = $3 WHERE name = $1 AND open`, name, reason, ts(at))
	}
	if err != nil {
		return false, wrap("set breaker", err)
	}
	return tag.RowsAffected() > 0, nil
}
