package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// SetPassword sets an account's password hash and ends its other sessions
// in one transaction.
func (s *Store) SetPassword(ctx context.Context, accountID, hash, keepSession string) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return setPassword(ctx, tx, accountID, hash, keepSession) })
}

func setPassword(ctx context.Context, tx *sql.Tx, accountID, hash, keepSession string) error {
	res, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = ? WHERE id = ?`, hash, accountID)
	if err := affected("set password", res, err); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = ? AND id != ?`, accountID, keepSession); err != nil {
		return wrap("end other sessions", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM password_resets WHERE account_id = ?`, accountID); err != nil {
		return wrap("remove password resets", err)
	}
	return bumpAccountGrants(ctx, tx, accountID)
}

// CreatePasswordReset inserts a reset.
func (s *Store) CreatePasswordReset(ctx context.Context, r domain.PasswordReset) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO password_resets (token_hash, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		r.TokenHash, r.AccountID, ts(r.CreatedAt), ts(r.ExpiresAt))
	return wrap("insert password reset", err)
}

// PasswordResetByHash reads a reset that has not expired.
func (s *Store) PasswordResetByHash(ctx context.Context, tokenHash []byte, now time.Time) (domain.PasswordReset, error) {
	var r domain.PasswordReset
	var created, expires int64
	err := s.read.QueryRowContext(ctx, `SELECT token_hash, account_id, created_at, expires_at FROM password_resets WHERE token_hash = ? AND expires_at > ?`,
		tokenHash, ts(now)).Scan(&r.TokenHash, &r.AccountID, &created, &expires)
	if err != nil {
		return domain.PasswordReset{}, wrap("password reset by hash", err)
	}
	r.CreatedAt, r.ExpiresAt = fromTS(created), fromTS(expires)
	return r, nil
}

// ResetPassword takes a live reset and sets its account's password.
func (s *Store) ResetPassword(ctx context.Context, tokenHash []byte, passwordHash string, now time.Time) (string, error) {
	var accountID string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `DELETE FROM password_resets WHERE token_hash = ? AND expires_at > ? RETURNING account_id`,
			tokenHash, ts(now)).Scan(&accountID)
		if err != nil {
			return wrap("take password reset", err)
		}
		return setPassword(ctx, tx, accountID, passwordHash, "")
	})
	if err != nil {
		return "", err
	}
	return accountID, nil
}

// DeleteExpiredPasswordResets removes expired resets.
func (s *Store) DeleteExpiredPasswordResets(ctx context.Context, now time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM password_resets WHERE expires_at <= ?`, ts(now))
	return count("delete expired password resets", res, err)
}

// RememberDevice records a login from a device.
func (s *Store) RememberDevice(ctx context.Context, d domain.KnownDevice) (isNew, hadOthers bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var known, others int
		if err := tx.QueryRowContext(ctx,
			`SELECT COALESCE(SUM(device_hash = ?), 0), COALESCE(SUM(device_hash != ?), 0) FROM known_devices WHERE account_id = ?`,
			d.Hash, d.Hash, d.AccountID).Scan(&known, &others); err != nil {
			return wrap("read known devices", err)
		}
		isNew, hadOthers = known == 0, others > 0
		_, err := tx.ExecContext(ctx,
			`INSERT INTO known_devices (account_id, device_hash, first_seen, last_seen) VALUES (?, ?, ?, ?)
			 ON CONFLICT (account_id, device_hash) DO UPDATE SET last_seen = MAX(known_devices.last_seen, excluded.last_seen)`,
			d.AccountID, d.Hash, ts(d.LastSeen), ts(d.LastSeen))
		return wrap("remember device", err)
	})
	return isNew, hadOthers, err
}

// ForgetDevicesBefore removes devices last seen before t.
func (s *Store) ForgetDevicesBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM known_devices WHERE last_seen < ?`, ts(t))
	return count("forget devices", res, err)
}

func count(what string, res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, wrap(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap(what, err)
	}
	return int(n), nil
}

// EnqueueMail inserts a mail into the outbox.
func (s *Store) EnqueueMail(ctx context.Context, m domain.Mail) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO mail_outbox (id, account_id, sealed, created_at, next_attempt_at, attempts, claimed_until) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.AccountID, m.Sealed, ts(m.CreatedAt), ts(m.NextAttemptAt), m.Attempts, ts(m.ClaimedUntil))
	return wrap("enqueue mail", err)
}

const mailCols = `id, account_id, sealed, created_at, next_attempt_at, attempts, claimed_until`

func scanMail(row scanner) (domain.Mail, error) {
	var m domain.Mail
	var created, next, claimed int64
	if err := row.Scan(&m.ID, &m.AccountID, &m.Sealed, &created, &next, &m.Attempts, &claimed); err != nil {
		return domain.Mail{}, err
	}
	m.CreatedAt, m.NextAttemptAt, m.ClaimedUntil = fromTS(created), fromTS(next), fromTS(claimed)
	return m, nil
}

// ClaimMail claims due mails nobody holds, in one statement: the one
// writer connection makes concurrent claims follow each other.
func (s *Store) ClaimMail(ctx context.Context, now, until time.Time, limit int) ([]domain.Mail, error) {
	var out []domain.Mail
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = list(ctx, tx, "claim mail", scanMail,
			`UPDATE mail_outbox SET claimed_until = ? WHERE id IN (
			   SELECT id FROM mail_outbox WHERE next_attempt_at <= ? AND claimed_until <= ?
			   ORDER BY next_attempt_at, id LIMIT ?)
			 RETURNING `+mailCols, ts(until), ts(now), ts(now), limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	sortMail(out)
	return out, nil
}

func sortMail(ms []domain.Mail) {
	slices.SortFunc(ms, func(a, b domain.Mail) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
}

// RetryMail releases a mail for a later attempt.
func (s *Store) RetryMail(ctx context.Context, id string, attempts int, next time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE mail_outbox SET attempts = ?, next_attempt_at = ?, claimed_until = 0 WHERE id = ?`,
		attempts, ts(next), id)
	return affected("retry mail", res, err)
}

// DeleteMail removes a mail.
func (s *Store) DeleteMail(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM mail_outbox WHERE id = ?`, id)
	return affected("delete mail", res, err)
}

var _ store.Passwords = (*Store)(nil)
