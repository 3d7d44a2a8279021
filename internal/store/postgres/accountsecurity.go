package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/camvault/camvault/internal/domain"
)

// SetPassword sets an account's password hash and ends its other sessions
// in one transaction.
func (s *Store) SetPassword(ctx context.Context, accountID, hash, keepSession string) error {
	return s.tx(ctx, func(tx pgx.Tx) error { return setPassword(ctx, tx, accountID, hash, keepSession) })
}

func setPassword(ctx context.Context, tx pgx.Tx, accountID, hash, keepSession string) error {
	tag, err := tx.Exec(ctx, `UPDATE accounts SET password_hash = $1 WHERE id = $2`, hash, accountID)
	if err := affected("set password", tag, err); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE account_id = $1 AND id != $2`, accountID, keepSession); err != nil {
		return wrap("end other sessions", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM password_resets WHERE account_id = $1`, accountID); err != nil {
		return wrap("remove password resets", err)
	}
	return bumpAccountGrants(ctx, tx, accountID)
}

// CreatePasswordReset inserts a reset.
func (s *Store) CreatePasswordReset(ctx context.Context, r domain.PasswordReset) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO password_resets (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		r.TokenHash, r.AccountID, ts(r.CreatedAt), ts(r.ExpiresAt))
	return wrap("insert password reset", err)
}

// PasswordResetByHash reads a reset that has not expired.
func (s *Store) PasswordResetByHash(ctx context.Context, tokenHash []byte, now time.Time) (domain.PasswordReset, error) {
	var r domain.PasswordReset
	var created, expires int64
	err := s.pool.QueryRow(ctx, `SELECT token_hash, account_id, created_at, expires_at FROM password_resets WHERE token_hash = $1 AND expires_at > $2`,
		tokenHash, ts(now)).Scan(&r.TokenHash, &r.AccountID, &created, &expires)
	if err != nil {
		return domain.PasswordReset{}, wrap("password reset by hash", err)
	}
	r.CreatedAt, r.ExpiresAt = fromTS(created), fromTS(expires)
	return r, nil
}

// ResetPassword takes a live reset and sets its account's password. The
// DELETE takes the row's lock: of two transactions with one token, the
// second finds it gone.
func (s *Store) ResetPassword(ctx context.Context, tokenHash []byte, passwordHash string, now time.Time) (string, error) {
	var accountID string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `DELETE FROM password_resets WHERE token_hash = $1 AND expires_at > $2 RETURNING account_id`,
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
	tag, err := s.pool.Exec(ctx, `DELETE FROM password_resets WHERE expires_at <= $1`, ts(now))
	if err != nil {
		return 0, wrap("delete expired password resets", err)
	}
	return int(tag.RowsAffected()), nil
}

// RememberDevice records a login from a device. The account's row is
// locked first, so two logins of one account from one new device agree
// on which of them saw it first.
func (s *Store) RememberDevice(ctx context.Context, d domain.KnownDevice) (isNew, hadOthers bool, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, d.AccountID); err != nil {
			return wrap("lock account", err)
		}
		var known, others int64
		if err := tx.QueryRow(ctx,
			`SELECT COUNT(*) FILTER (WHERE device_hash = $1), COUNT(*) FILTER (WHERE device_hash != $1) FROM known_devices WHERE account_id = $2`,
			d.Hash, d.AccountID).Scan(&known, &others); err != nil {
			return wrap("read known devices", err)
		}
		isNew, hadOthers = known == 0, others > 0
		_, err := tx.Exec(ctx,
			`INSERT INTO known_devices (account_id, device_hash, first_seen, last_seen) VALUES ($1, $2, $3, $3)
			 ON CONFLICT (account_id, device_hash) DO UPDATE SET last_seen = GREATEST(known_devices.last_seen, excluded.last_seen)`,
			d.AccountID, d.Hash, ts(d.LastSeen))
		return wrap("remember device", err)
	})
	return isNew, hadOthers, err
}

// ForgetDevicesBefore removes devices last seen before t.
func (s *Store) ForgetDevicesBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM known_devices WHERE last_seen < $1`, ts(t))
	if err != nil {
		return 0, wrap("forget devices", err)
	}
	return int(tag.RowsAffected()), nil
}

// EnqueueMail inserts a mail into the outbox.
func (s *Store) EnqueueMail(ctx context.Context, m domain.Mail) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO mail_outbox (id, account_id, sealed, created_at, next_attempt_at, attempts, claimed_until) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		m.ID, m.AccountID, m.Sealed, ts(m.CreatedAt), ts(m.NextAttemptAt), int64(m.Attempts), ts(m.ClaimedUntil))
	return wrap("enqueue mail", err)
}

const mailCols = `id, account_id, sealed, created_at, next_attempt_at, attempts, claimed_until`

func scanMail(row scanner) (domain.Mail, error) {
	var m domain.Mail
	var created, next, claimed, attempts int64
	if err := row.Scan(&m.ID, &m.AccountID, &m.Sealed, &created, &next, &attempts, &claimed); err != nil {
		return domain.Mail{}, err
	}
	m.CreatedAt, m.NextAttemptAt, m.ClaimedUntil, m.Attempts = fromTS(created), fromTS(next), fromTS(claimed), int(attempts)
	return m, nil
}

// ClaimMail claims due mails nobody holds. SKIP LOCKED leaves rows another
// node's claim is updating to it, and the claim condition is checked again
// on each row when it is updated, so two claims never return one mail.
func (s *Store) ClaimMail(ctx context.Context, now, until time.Time, limit int) ([]domain.Mail, error) {
	out, err := list(ctx, s.pool, "claim mail", scanMail,
		`UPDATE mail_outbox SET claimed_until = $1 WHERE id IN (
		   SELECT id FROM mail_outbox WHERE next_attempt_at <= $2 AND claimed_until <= $2
		   ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
		 AND claimed_until <= $2
		 RETURNING `+mailCols, ts(until), ts(now), limit)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b domain.Mail) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out, nil
}

// RetryMail releases a mail for a later attempt.
func (s *Store) RetryMail(ctx context.Context, id string, attempts int, next time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE mail_outbox SET attempts = $1, next_attempt_at = $2, claimed_until = 0 WHERE id = $3`,
		int64(attempts), ts(next), id)
	return affected("retry mail", tag, err)
}

// DeleteMail removes a mail.
func (s *Store) DeleteMail(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM mail_outbox WHERE id = $1`, id)
	return affected("delete mail", tag, err)
}
