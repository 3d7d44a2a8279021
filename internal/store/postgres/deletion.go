package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

func scanText(row scanner) (string, error) {
	var v string
	err := row.Scan(&v)
	return v, err
}

// queueBlobs queues for removal, due at t, the blobs a query of one text
// column k names (empty values skipped). The query's parameters start at
// $3.
func queueBlobs(ctx context.Context, tx pgx.Tx, t time.Time, query string, args ...any) error {
	_, err := tx.Exec(ctx, `INSERT INTO blob_removals (key, queued_at, not_before)
		SELECT k, $1, $2 FROM (`+query+`) q WHERE k != '' ON CONFLICT (key) DO NOTHING`,
		append([]any{ts(t), ts(t)}, args...)...)
	return wrap("queue blob removals", err)
}

// DeleteAccount removes an account and the homes it owns alone, in one
// transaction (see store.Deletion). The homes it owns are locked first,
// so no membership of them can be added (every one bumps the home's
// grants version) between counting their members and deleting them.
func (s *Store) DeleteAccount(ctx context.Context, accountID string, emailIndexes [][]byte, at time.Time) (domain.AccountDeletion, error) {
	var out domain.AccountDeletion
	err := s.tx(ctx, func(tx pgx.Tx) error {
		out = domain.AccountDeletion{}
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, accountID).Scan(&one); err != nil {
			return wrap("read account", err)
		}
		owned, err := list(ctx, tx, "homes owned", scanText, `SELECT h.id FROM homes h
			WHERE h.id IN (SELECT home_id FROM members WHERE account_id = $1 AND role = 'owner') ORDER BY h.id FOR UPDATE`, accountID)
		if err != nil {
			return err
		}
		for _, h := range owned {
			var others int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM members WHERE home_id = $1 AND account_id != $2`, h, accountID).Scan(&others); err != nil {
				return wrap("count members", err)
			}
			if others > 0 {
				return fmt.Errorf("home %s has other members: %w", h, store.ErrConflict)
			}
		}
		for _, h := range owned {
			devs, err := list(ctx, tx, "devices of home", scanText, `SELECT id FROM devices WHERE home_id = $1 ORDER BY id`, h)
			if err != nil {
				return err
			}
			out.Devices = append(out.Devices, devs...)
			if err := queueBlobs(ctx, tx, at, `SELECT thumb_key AS k FROM events WHERE home_id = $3 AND purged_at IS NULL
				UNION ALL SELECT clip_key AS k FROM events WHERE home_id = $3 AND purged_at IS NULL
				UNION ALL SELECT blob_key AS k FROM exports WHERE home_id = $3`, h); err != nil {
				return err
			}
			for _, q := range []string{`DELETE FROM exports WHERE home_id = $1`, `DELETE FROM audit WHERE home_id = $1`,
				`DELETE FROM audit_heads WHERE home_id = $1`, `DELETE FROM homes WHERE id = $1`} {
				if _, err := tx.Exec(ctx, q, h); err != nil {
					return wrap("delete home", err)
				}
			}
			if err := recordChange(ctx, tx, h, ""); err != nil {
				return err
			}
			out.Homes = append(out.Homes, h)
		}
		others, err := list(ctx, tx, "memberships", scanText, `SELECT home_id FROM members WHERE account_id = $1 ORDER BY home_id`, accountID)
		if err != nil {
			return err
		}
		for _, h := range others {
			if _, err := tx.Exec(ctx, `DELETE FROM members WHERE home_id = $1 AND account_id = $2`, h, accountID); err != nil {
				return wrap("leave home", err)
			}
			if err := bumpGrants(ctx, tx, h); err != nil {
				return err
			}
		}
		if err := queueBlobs(ctx, tx, at, `SELECT blob_key AS k FROM exports WHERE account_id = $3`, accountID); err != nil {
			return err
		}
		if len(emailIndexes) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM invitations WHERE email_index = ANY($1)`, emailIndexes); err != nil {
				return wrap("delete invitations to account", err)
			}
		}
		// Sessions, partner links, invitations made and exports go by
		// cascade.
		if _, err := tx.Exec(ctx, `DELETE FROM accounts WHERE id = $1`, accountID); err != nil {
			return wrap("delete account", err)
		}
		return recordChange(ctx, tx, "", accountID)
	})
	return out, err
}

// TransferOwnership swaps the owner and one admin of a home.
func (s *Store) TransferOwnership(ctx context.Context, homeID, from, to string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE members SET role = 'admin' WHERE home_id = $1 AND account_id = $2 AND role = 'owner'`, homeID, from)
		if err := affected("demote owner", tag, err); err != nil {
			return err
		}
		tag, err = tx.Exec(ctx, `UPDATE members SET role = 'owner', limited = false WHERE home_id = $1 AND account_id = $2 AND role = 'admin'`, homeID, to)
		if err := affected("promote admin", tag, err); err != nil {
			return err
		}
		return bumpGrants(ctx, tx, homeID)
	})
}

// QueueBlobRemoval queues one blob.
func (s *Store) QueueBlobRemoval(ctx context.Context, key string, queued, notBefore time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO blob_removals (key, queued_at, not_before) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET not_before = excluded.not_before`, key, ts(queued), ts(notBefore))
	return wrap("queue blob removal", err)
}

// DueBlobRemovals lists queued blobs due at now.
func (s *Store) DueBlobRemovals(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return list(ctx, s.pool, "due blob removals", scanText,
		`SELECT key FROM blob_removals WHERE not_before <= $1 ORDER BY not_before, key LIMIT $2`, ts(now), limit)
}

// DropBlobRemovals removes blobs from the queue.
func (s *Store) DropBlobRemovals(ctx context.Context, keys []string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM blob_removals WHERE key = ANY($1)`, keys)
	return wrap("drop blob removals", err)
}

const exportCols = `id, account_id, home_id, status, created_at, claimed_until, expires_at, blob_key, size, key_wrapped`

func scanExport(row scanner) (domain.Export, error) {
	var x domain.Export
	var status string
	var created, claimed, expires int64
	if err := row.Scan(&x.ID, &x.AccountID, &x.HomeID, &status, &created, &claimed, &expires, &x.BlobKey, &x.Size, &x.KeyWrapped); err != nil {
		return domain.Export{}, err
	}
	x.Status = domain.ExportStatus(status)
	x.CreatedAt, x.ClaimedUntil, x.ExpiresAt = fromTS(created), fromTS(claimed), fromTS(expires)
	return x, nil
}

// CreateExport inserts a pending export; the unique index on busy
// exports refuses a second one of the same account, whichever node asks.
func (s *Store) CreateExport(ctx context.Context, x domain.Export) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO exports (id, account_id, home_id, status, created_at, expires_at) VALUES ($1, $2, $3, 'pending', $4, $5)`,
		x.ID, x.AccountID, x.HomeID, ts(x.CreatedAt), ts(x.ExpiresAt))
	return wrap("insert export", err)
}

// ExportByID reads an export.
func (s *Store) ExportByID(ctx context.Context, id string) (domain.Export, error) {
	x, err := scanExport(s.pool.QueryRow(ctx, `SELECT `+exportCols+` FROM exports WHERE id = $1`, id))
	return x, wrap("export by id", err)
}

// ClaimExport takes the oldest export waiting for a worker; SKIP LOCKED
// lets concurrent claims on other nodes take the next one.
func (s *Store) ClaimExport(ctx context.Context, now, until time.Time) (domain.Export, error) {
	x, err := scanExport(s.pool.QueryRow(ctx, `UPDATE exports SET status = 'running', claimed_until = $1
		WHERE id = (SELECT id FROM exports WHERE status = 'pending' OR (status = 'running' AND claimed_until < $2)
			ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+exportCols, ts(until), ts(now)))
	return x, wrap("claim export", err)
}

// FinishExport records the end of a running export.
func (s *Store) FinishExport(ctx context.Context, x domain.Export) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE exports SET status = $1, blob_key = $2, size = $3, key_wrapped = $4
			WHERE id = $5 AND status = 'running'`, string(x.Status), x.BlobKey, x.Size, x.KeyWrapped, x.ID)
		if err := affected("finish export", tag, err); err != nil {
			return err
		}
		if x.BlobKey == "" {
			return nil
		}
		_, err = tx.Exec(ctx, `DELETE FROM blob_removals WHERE key = $1`, x.BlobKey)
		return wrap("keep export blob", err)
	})
}

// DeleteExpiredExports removes expired exports and queues their blobs.
func (s *Store) DeleteExpiredExports(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := queueBlobs(ctx, tx, now, `SELECT blob_key AS k FROM exports WHERE expires_at < $3`, ts(now)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM exports WHERE expires_at < $1`, ts(now))
		if err != nil {
			return wrap("delete expired exports", err)
		}
		n = tag.RowsAffected()
		return nil
	})
	return int(n), err
}
