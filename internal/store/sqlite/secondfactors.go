package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// PutTOTP starts (or restarts) an unconfirmed TOTP enrolment with fresh
// recovery codes, in one transaction; a confirmed one is left alone.
func (s *Store) PutTOTP(ctx context.Context, t domain.TOTP, codeHashes [][]byte) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var confirmed bool
		err := tx.QueryRowContext(ctx, `SELECT confirmed FROM totp WHERE account_id = ?`, t.AccountID).Scan(&confirmed)
		switch {
		case err == nil && confirmed:
			return fmt.Errorf("put totp: %w", store.ErrConflict)
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return wrap("read totp", err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO totp (account_id, secret_sealed, confirmed, last_step, created_at) VALUES (?, ?, 0, 0, ?)
			 ON CONFLICT (account_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, last_step = 0, created_at = excluded.created_at`,
			t.AccountID, t.SecretSealed, ts(t.CreatedAt)); err != nil {
			return wrap("put totp", err)
		}
		return putRecoveryCodes(ctx, tx, t.AccountID, codeHashes)
	})
}

func putRecoveryCodes(ctx context.Context, tx *sql.Tx, accountID string, hashes [][]byte) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE account_id = ?`, accountID); err != nil {
		return wrap("delete recovery codes", err)
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (account_id, code_hash) VALUES (?, ?)`, accountID, h); err != nil {
			return wrap("insert recovery code", err)
		}
	}
	return nil
}

// TOTP reads an account's enrolment.
func (s *Store) TOTP(ctx context.Context, accountID string) (domain.TOTP, error) {
	t := domain.TOTP{AccountID: accountID}
	var created int64
	err := s.read.QueryRowContext(ctx, `SELECT secret_sealed, confirmed, last_step, created_at FROM totp WHERE account_id = ?`, accountID).
		Scan(&t.SecretSealed, &t.Confirmed, &t.LastStep, &created)
	if err != nil {
		return domain.TOTP{}, wrap("read totp", err)
	}
	t.CreatedAt = fromTS(created)
	return t, nil
}

// ConfirmTOTP confirms an unconfirmed enrolment and bumps the account's
// grant version: it now has a second factor.
func (s *Store) ConfirmTOTP(ctx context.Context, accountID string, step int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE totp SET confirmed = 1, last_step = ? WHERE account_id = ? AND confirmed = 0`, step, accountID)
		if err := affected("confirm totp", res, err); err != nil {
			return err
		}
		return bumpAccountGrants(ctx, tx, accountID)
	})
}

// UseTOTPStep moves the last accepted step forward, in one statement.
func (s *Store) UseTOTPStep(ctx context.Context, accountID string, step int64) error {
	res, err := s.w.ExecContext(ctx, `UPDATE totp SET last_step = ? WHERE account_id = ? AND confirmed = 1 AND last_step < ?`, step, accountID, step)
	return affected("use totp step", res, err)
}

// UseRecoveryCode removes a recovery code, in one statement.
func (s *Store) UseRecoveryCode(ctx context.Context, accountID string, codeHash []byte) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM recovery_codes WHERE account_id = ? AND code_hash = ?`, accountID, codeHash)
	return affected("use recovery code", res, err)
}

// RecoveryCodesLeft counts an account's unused recovery codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, accountID string) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE account_id = ?`, accountID).Scan(&n)
	return n, wrap("count recovery codes", err)
}

// DeleteTOTP removes an enrolment and its recovery codes and bumps the
// account's grant version.
func (s *Store) DeleteTOTP(ctx context.Context, accountID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM totp WHERE account_id = ?`, accountID)
		if err := affected("delete totp", res, err); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE account_id = ?`, accountID); err != nil {
			return wrap("delete recovery codes", err)
		}
		return bumpAccountGrants(ctx, tx, accountID)
	})
}

// CreatePasskey inserts a passkey and bumps the account's grant version.
func (s *Store) CreatePasskey(ctx context.Context, p domain.Passkey) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO passkeys (id, account_id, credential_id, credential, sign_count, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.AccountID, p.CredentialID, p.Credential, int64(p.SignCount), ts(p.CreatedAt), ts(p.LastUsedAt)); err != nil {
			return wrap("insert passkey", err)
		}
		return bumpAccountGrants(ctx, tx, p.AccountID)
	})
}

const passkeyCols = `id, account_id, credential_id, credential, sign_count, created_at, last_used_at`

func scanPasskey(row scanner) (domain.Passkey, error) {
	var p domain.Passkey
	var count, created, used int64
	if err := row.Scan(&p.ID, &p.AccountID, &p.CredentialID, &p.Credential, &count, &created, &used); err != nil {
		return domain.Passkey{}, err
	}
	p.SignCount, p.CreatedAt = uint32(count), fromTS(created)
	if used != 0 {
		p.LastUsedAt = fromTS(used)
	}
	return p, nil
}

// Passkeys lists an account's passkeys, oldest first.
func (s *Store) Passkeys(ctx context.Context, accountID string) ([]domain.Passkey, error) {
	return list(ctx, s.read, "list passkeys", scanPasskey,
		`SELECT `+passkeyCols+` FROM passkeys WHERE account_id = ? ORDER BY created_at, id`, accountID)
}

// PasskeyByCredentialID finds a passkey by its credential ID.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (domain.Passkey, error) {
	p, err := scanPasskey(s.read.QueryRowContext(ctx, `SELECT `+passkeyCols+` FROM passkeys WHERE credential_id = ?`, credentialID))
	return p, wrap("passkey by credential id", err)
}

// UsePasskey records a login with a passkey whose counter moved forward
// (or that keeps none), in one statement.
func (s *Store) UsePasskey(ctx context.Context, id string, signCount uint32, credential []byte, at time.Time) error {
	res, err := s.w.ExecContext(ctx,
		`UPDATE passkeys SET sign_count = ?, credential = ?, last_used_at = ?
		 WHERE id = ? AND (sign_count < ? OR (sign_count = 0 AND ? = 0))`,
		int64(signCount), credential, ts(at), id, int64(signCount), int64(signCount))
	return affected("use passkey", res, err)
}

// DeletePasskey removes one passkey of an account and bumps its grant
// version.
func (s *Store) DeletePasskey(ctx context.Context, accountID, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM passkeys WHERE id = ? AND account_id = ?`, id, accountID)
		if err := affected("delete passkey", res, err); err != nil {
			return err
		}
		return bumpAccountGrants(ctx, tx, accountID)
	})
}

// PutChallenge keeps a ceremony's challenge.
func (s *Store) PutChallenge(ctx context.Context, c domain.WebAuthnChallenge) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO webauthn_challenges (id, account_id, purpose, data, expires_at) VALUES (?, ?, ?, ?, ?)`,
		c.ID, c.AccountID, c.Purpose, c.Data, ts(c.ExpiresAt))
	return wrap("insert challenge", err)
}

// TakeChallenge removes and returns an unexpired challenge, in one
// statement.
func (s *Store) TakeChallenge(ctx context.Context, id, accountID, purpose string, now time.Time) (domain.WebAuthnChallenge, error) {
	c := domain.WebAuthnChallenge{ID: id, AccountID: accountID, Purpose: purpose}
	var expires int64
	err := s.w.QueryRowContext(ctx,
		`DELETE FROM webauthn_challenges WHERE id = ? AND account_id = ? AND purpose = ? AND expires_at > ? RETURNING data, expires_at`,
		id, accountID, purpose, ts(now)).Scan(&c.Data, &expires)
	if err != nil {
		return domain.WebAuthnChallenge{}, wrap("take challenge", err)
	}
	c.ExpiresAt = fromTS(expires)
	return c, nil
}

// DeleteExpiredChallenges removes challenges expired at now.
func (s *Store) DeleteExpiredChallenges(ctx context.Context, now time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM webauthn_challenges WHERE expires_at <= ?`, ts(now))
	n, err := rowsAffected(res, err)
	return n, wrap("delete expired challenges", err)
}

// SetRequireSecondFactor sets a home's requirement and bumps its grants
// version, logging the change.
func (s *Store) SetRequireSecondFactor(ctx context.Context, homeID string, on bool) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE homes SET require_second_factor = ? WHERE id = ?`, on, homeID)
		if err := affected("set require second factor", res, err); err != nil {
			return err
		}
		return bumpGrants(ctx, tx, homeID)
	})
}
