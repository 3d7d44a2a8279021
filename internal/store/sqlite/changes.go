package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// recordChange appends a change to the log inside the changing
// transaction (docs/design/leases.md). The single writer makes the
// numbers follow commit order; the clock row keeps them from ever being
// reused.
func recordChange(ctx context.Context, tx *sql.Tx, homeID, accountID string) error {
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE change_clock SET seq = seq + 1 WHERE id = 1 RETURNING seq`).Scan(&seq); err != nil {
		return wrap("advance change clock", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO changes (seq, at, home_id, account_id) VALUES (?, ?, ?, ?)`,
		seq, ts(time.Now()), homeID, accountID)
	return wrap("record change", err)
}

// ChangesSince reads the clock and the changes after seq from one
// snapshot.
func (s *Store) ChangesSince(ctx context.Context, seq int64, limit int) (int64, []domain.Change, error) {
	var latest int64
	var out []domain.Change
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT seq FROM change_clock WHERE id = 1`).Scan(&latest); err != nil {
			return wrap("read change clock", err)
		}
		if limit <= 0 {
			return nil
		}
		var err error
		out, err = list(ctx, tx, "list changes", scanChange,
			`SELECT seq, at, home_id, account_id FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`, seq, limit)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	return latest, out, nil
}

func scanChange(sc scanner) (domain.Change, error) {
	var c domain.Change
	var at int64
	if err := sc.Scan(&c.Seq, &at, &c.HomeID, &c.AccountID); err != nil {
		return domain.Change{}, err
	}
	c.At = fromTS(at)
	return c, nil
}

// PruneChanges removes changes made before t.
func (s *Store) PruneChanges(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM changes WHERE at < ?`, ts(before))
		if err != nil {
			return wrap("prune changes", err)
		}
		n, err = res.RowsAffected()
		return wrap("prune changes", err)
	})
	return int(n), err
}

// PutLease records a node's lease.
func (s *Store) PutLease(ctx context.Context, node string, expires time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO leases (node, expires_at) VALUES (?, ?)
			ON CONFLICT (node) DO UPDATE SET expires_at = excluded.expires_at`, node, ts(expires))
		return wrap("put lease", err)
	})
}

// DropLease removes a node's lease.
func (s *Store) DropLease(ctx context.Context, node string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM leases WHERE node = ?`, node)
		return wrap("drop lease", err)
	})
}

// Leases lists the nodes whose lease expires after t.
func (s *Store) Leases(ctx context.Context, after time.Time) ([]string, error) {
	return list(ctx, s.read, "list leases", func(sc scanner) (string, error) {
		var n string
		return n, sc.Scan(&n)
	}, `SELECT node FROM leases WHERE expires_at > ? ORDER BY node`, ts(after))
}
