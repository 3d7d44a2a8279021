package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/camvault/camvault/internal/domain"
)

// recordChange appends a change to the log inside the changing
// transaction (docs/design/leases.md). Updating the clock's one row locks
// it until this transaction ends, so changes from every node take their
// numbers one after another, in commit order, and a transaction rolled
// back gives its number back: the log has no gaps. It is called last in
// each transaction, after the rows it changes are locked, so the clock is
// held only for the commit.
func recordChange(ctx context.Context, tx pgx.Tx, homeID, accountID string) error {
	var seq int64
	if err := tx.QueryRow(ctx, `UPDATE change_clock SET seq = seq + 1 WHERE id = 1 RETURNING seq`).Scan(&seq); err != nil {
		return wrap("advance change clock", err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO changes (seq, at, home_id, account_id) VALUES ($1, $2, $3, $4)`,
		seq, ts(time.Now()), homeID, accountID)
	return wrap("record change", err)
}

// ChangesSince reads the clock and the changes after seq from one
// repeatable-read snapshot.
func (s *Store) ChangesSince(ctx context.Context, seq int64, limit int) (int64, []domain.Change, error) {
	var latest int64
	var out []domain.Change
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT seq FROM change_clock WHERE id = 1`).Scan(&latest); err != nil {
			return wrap("read change clock", err)
		}
		if limit <= 0 {
			return nil
		}
		var err error
		out, err = list(ctx, tx, "list changes", func(sc scanner) (domain.Change, error) {
			var c domain.Change
			var at int64
			if err := sc.Scan(&c.Seq, &at, &c.HomeID, &c.AccountID); err != nil {
				return domain.Change{}, err
			}
			c.At = fromTS(at)
			return c, nil
		}, `SELECT seq, at, home_id, account_id FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2`, seq, limit)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	return latest, out, nil
}

// PruneChanges removes changes made before t.
func (s *Store) PruneChanges(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM changes WHERE at < $1`, ts(before))
	if err != nil {
		return 0, wrap("prune changes", err)
	}
	return int(tag.RowsAffected()), nil
}

// PutLease records a node's lease.
func (s *Store) PutLease(ctx context.Context, node string, expires time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO leases (node, expires_at) VALUES ($1, $2)
		ON CONFLICT (node) DO UPDATE SET expires_at = excluded.expires_at`, node, ts(expires))
	return wrap("put lease", err)
}

// DropLease removes a node's lease.
func (s *Store) DropLease(ctx context.Context, node string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM leases WHERE node = $1`, node)
	return wrap("drop lease", err)
}

// Leases lists the nodes whose lease expires after t.
func (s *Store) Leases(ctx context.Context, after time.Time) ([]string, error) {
	return list(ctx, s.pool, "list leases", func(sc scanner) (string, error) {
		var n string
		return n, sc.Scan(&n)
	}, `SELECT node FROM leases WHERE expires_at > $1 ORDER BY node`, ts(after))
}
