package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// column runs a query of one text column and returns its values.
func column(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// queueBlobs queues for removal, due at t, the blobs a query of one text
// column names (empty values skipped).
func queueBlobs(ctx context.Context, tx *sql.Tx, t time.Time, query string, args ...any) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO blob_removals (key, queued_at, not_before)
		SELECT k, ?, ? FROM (`+query+`) WHERE k != '' ON CONFLICT (key) DO NOTHING`,
		append([]any{ts(t), ts(t)}, args...)...)
	return wrap("queue blob removals", err)
}

// DeleteAccount removes an account and the homes it owns alone, in one
// transaction (see store.Deletion).
func (s *Store) DeleteAccount(ctx context.Context, accountID string, emailIndexes [][]byte, at time.Time) (domain.AccountDeletion, error) {
	var out domain.AccountDeletion
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = domain.AccountDeletion{}
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE id = ?`, accountID).Scan(&one); err != nil {
			return wrap("read account", err)
		}
		owned, err := column(ctx, tx, `SELECT home_id FROM members WHERE account_id = ? AND role = 'owner' ORDER BY home_id`, accountID)
		if err != nil {
			return wrap("homes owned", err)
		}
		for _, h := range owned {
			var others int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM members WHERE home_id = ? AND account_id != ?`, h, accountID).Scan(&others); err != nil {
				return wrap("count members", err)
			}
			if others > 0 {
				return fmt.Errorf("home %s has other members: %w", h, store.ErrConflict)
			}
		}
		for _, h := range owned {
			devs, err := column(ctx, tx, `SELECT id FROM devices WHERE home_id = ? ORDER BY id`, h)
			if err != nil {
				return wrap("devices of home", err)
			}
			out.Devices = append(out.Devices, devs...)
			if err := queueBlobs(ctx, tx, at, `SELECT thumb_key AS k FROM events WHERE home_id = ? AND purged_at IS NULL
				UNION ALL SELECT clip_key AS k FROM events WHERE home_id = ? AND purged_at IS NULL
				UNION ALL SELECT blob_key AS k FROM exports WHERE home_id = ?`, h, h, h); err != nil {
				return err
			}
			for _, q := range []string{`DELETE FROM exports WHERE home_id = ?`, `DELETE FROM audit WHERE home_id = ?`,
				`DELETE FROM audit_heads WHERE home_id = ?`, `DELETE FROM homes WHERE id = ?`} {
				if _, err := tx.ExecContext(ctx, q, h); err != nil {
					return wrap("delete home", err)
				}
			}
			if err := recordChange(ctx, tx, h, ""); err != nil {
				return err
			}
			out.Homes = append(out.Homes, h)
		}
		others, err := column(ctx, tx, `SELECT home_id FROM members WHERE account_id = ? ORDER BY home_id`, accountID)
		if err != nil {
			return wrap("memberships", err)
		}
		for _, h := range others {
			if _, err := tx.ExecContext(ctx, `DELETE FROM members WHERE home_id = ? AND account_id = ?`, h, accountID); err != nil {
				return wrap("leave home", err)
			}
			if err := bumpGrants(ctx, tx, h); err != nil {
				return err
			}
		}
		if err := queueBlobs(ctx, tx, at, `SELECT blob_key AS k FROM exports WHERE account_id = ?`, accountID); err != nil {
			return err
		}
		for _, ix := range emailIndexes {
			if _, err := tx.ExecContext(ctx, `DELETE FROM invitations WHERE email_index = ?`, ix); err != nil {
				return wrap("delete invitations to account", err)
			}
		}
		// Sessions, partner links, invitations made and exports go by
		// cascade.
		if _, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = ?`, accountID); err != nil {
			return wrap("delete account", err)
		}
		return recordChange(ctx, tx, "", accountID)
	})
	return out, err
}

// TransferOwnership swaps the owner and one admin of a home.
func (s *Store) TransferOwnership(ctx context.Context, homeID, from, to string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE members SET role = 'admin' WHERE home_id = ? AND account_id = ? AND role = 'owner'`, homeID, from)
		if err := affected("demote owner", res, err); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `UPDATE members SET role = 'owner', limited = 0 WHERE home_id = ? AND account_id = ? AND role = 'admin'`, homeID, to)
		if err := affected("promote admin", res, err); err != nil {
			return err
		}
		return bumpGrants(ctx, tx, homeID)
	})
}

// QueueBlobRemoval queues one blob.
func (s *Store) QueueBlobRemoval(ctx context.Context, key string, queued, notBefore time.Time) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO blob_removals (key, queued_at, not_before) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET not_before = excluded.not_before`, key, ts(queued), ts(notBefore))
	return wrap("queue blob removal", err)
}

// DueBlobRemovals lists queued blobs due at now.
func (s *Store) DueBlobRemovals(ctx context.Context, now time.Time, limit int) ([]string, error) {
	out, err := column(ctx, s.read, `SELECT key FROM blob_removals WHERE not_before <= ? ORDER BY not_before, key LIMIT ?`, ts(now), limit)
	return out, wrap("due blob removals", err)
}

// DropBlobRemovals removes blobs from the queue.
func (s *Store) DropBlobRemovals(ctx context.Context, keys []string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `DELETE FROM blob_removals WHERE key = ?`, k); err != nil {
				return wrap("drop blob removal", err)
			}
		}
		return nil
	})
}

const exportCols = `id, account_id, home_id, status, created_at, claimed_until, expires_at, blob_key, size, key_wrapped`

func scanExport(row scanner) (domain.Export, error) {
	var x domain.Export
	var created, claimed, expires int64
	if err := row.Scan(&x.ID, &x.AccountID, &x.HomeID, &x.Status, &created, &claimed, &expires, &x.BlobKey, &x.Size, &x.KeyWrapped); err != nil {
		return domain.Export{}, err
	}
	x.CreatedAt, x.ClaimedUntil, x.ExpiresAt = fromTS(created), fromTS(claimed), fromTS(expires)
	return x, nil
}

// CreateExport inserts a pending export; the unique index on busy
// exports refuses a second one of the same account.
func (s *Store) CreateExport(ctx context.Context, x domain.Export) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO exports (id, account_id, home_id, status, created_at, expires_at) VALUES (?, ?, ?, 'pending', ?, ?)`,
		x.ID, x.AccountID, x.HomeID, ts(x.CreatedAt), ts(x.ExpiresAt))
	return wrap("insert export", err)
}

// ExportByID reads an export.
func (s *Store) ExportByID(ctx context.Context, id string) (domain.Export, error) {
	x, err := scanExport(s.read.QueryRowContext(ctx, `SELECT `+exportCols+` FROM exports WHERE id = ?`, id))
	return x, wrap("export by id", err)
}

// ClaimExport takes the oldest export waiting for a worker.
func (s *Store) ClaimExport(ctx context.Context, now, until time.Time) (domain.Export, error) {
	var x domain.Export
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		x, err = scanExport(tx.QueryRowContext(ctx, `UPDATE exports SET status = 'running', claimed_until = ?
			WHERE id = (SELECT id FROM exports WHERE status = 'pending' OR (status = 'running' AND claimed_until < ?)
				ORDER BY created_at, id LIMIT 1)
			RETURNING `+exportCols, ts(until), ts(now)))
		return wrap("claim export", err)
	})
	return x, err
}

// FinishExport records the end of a running export.
func (s *Store) FinishExport(ctx context.Context, x domain.Export) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE exports SET status = ?, blob_key = ?, size = ?, key_wrapped = ?
			WHERE id = ? AND status = 'running'`, string(x.Status), x.BlobKey, x.Size, x.KeyWrapped, x.ID)
		if err := affected("finish export", res, err); err != nil {
			return err
		}
		if x.BlobKey == "" {
			return nil
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM blob_removals WHERE key = ?`, x.BlobKey)
		return wrap("keep export blob", err)
	})
}

// DeleteExpiredExports removes expired exports and queues their blobs.
func (s *Store) DeleteExpiredExports(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := queueBlobs(ctx, tx, now, `SELECT blob_key AS k FROM exports WHERE expires_at < ?`, ts(now)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM exports WHERE expires_at < ?`, ts(now))
		if err != nil {
			return wrap("delete expired exports", err)
		}
		n, err = res.RowsAffected()
		return wrap("delete expired exports", err)
	})
	return int(n), err
}
