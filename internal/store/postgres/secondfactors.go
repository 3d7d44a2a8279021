package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
	"github.com/jackc/pgx/v5"
)

// PutTOTP starts (or restarts) an unconfirmed TOTP enrolment with fresh
// recovery codes, in one transaction; a confirmed one is left alone.
func (s *Store) PutTOTP(ctx context.Context, t domain.TOTP, codeHashes [][]byte) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var confirmed bool
		err := tx.QueryRow(ctx, `SELECT confirmed FROM totp WHERE account_id = $1`, t.AccountID).Scan(&confirmed)
		switch {
		case err == nil && confirmed:
			return fmt.Errorf("put totp: %w", store.ErrConflict)
		case err != nil && !errors.Is(err, pgx.ErrNoRows):
			return wrap("read totp", err)
		}
		if _, err := tx.Exec(ctx,
			`INSERT INTO totp (account_id, secret_sealed, confirmed, last_step, created_at) VALUES ($1, $2, false, 0, $3)
			 ON CONFLICT (account_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, last_step = 0, created_at = excluded.created_at`,
			t.AccountID, t.SecretSealed, ts(t.CreatedAt)); err != nil {
			return wrap("put totp", err)
		}
		return putRecoveryCodes(ctx, tx, t.AccountID, codeHashes)
	})
}

func putRecoveryCodes(ctx context.Context, tx pgx.Tx, accountID string, hashes [][]byte) error {
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE account_id = $1`, accountID); err != nil {
		return wrap("delete recovery codes", err)
	}
	for _, h := range hashes {
		if _, err := tx.Exec(ctx, `INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)`, accountID, h); err != nil {
			return wrap("insert recovery code", err)
		}
	}
	return nil
}

// TOTP reads an account's enrolment.
func (s *Store) TOTP(ctx context.Context, accountID string) (domain.TOTP, error) {
	t := domain.TOTP{AccountID: accountID}
	var created int64
	err := s.pool.QueryRow(ctx, `SELECT secret_sealed, confirmed, last_step, created_at FROM totp WHERE account_id = $1`, accountID).
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
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE totp SET confirmed = true, last_step = $1 WHERE account_id = $2 AND NOT confirmed`, step, accountID)
		if err := affected("confirm totp", tag, err); err != nil {
			return err
		}
		return bumpAccountGrants(ctx, tx, accountID)
	})
}

// UseTOTPStep moves the last accepted step forward, in one statement.
func (s *Store) UseTOTPStep(ctx context.Context, accountID string, step int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE totp SET last_step = $1 WHERE account_id = $2 AND confirmed AND last_step < $3`, step, accountID, step)
	return affected("use totp step", tag, err)
}

// UseRecoveryCode removes a recovery code, in one statement.
func (s *Store) UseRecoveryCode(ctx context.Context, accountID string, codeHash []byte) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM recovery_codes WHERE account_id = $1 AND code_hash = $2`, accountID, codeHash)
	return affected("use recovery code", tag, err)
}

// RecoveryCodesLeft counts an account's unused recovery codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, accountID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1`, accountID).Scan(&n)
	return n, wrap("count recovery codes", err)
}

// DeleteTOTP removes an enrolment and its recovery codes and bumps the
// account's grant version.
func (s *Store) DeleteTOTP(ctx context.Context, accountID string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM totp WHERE account_id = $1`, accountID)
		if err := affected("delete totp", tag, err); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE account_id = $1`, accountID); err != nil {
			return wrap("delete recovery codes", err)
		}
		return bumpAccountGrants(ctx, tx, accountID)
	})
}

// CreatePasskey inserts a passkey and bumps the account's grant version.
func (s *Store) CreatePasskey(ctx context.Context, p domain.Passkey) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			`INSERT INTO passkeys (id, account_id, credential_id, credential, sign_count, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
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
	return list(ctx, s.pool, "list passkeys", scanPasskey,
		`SELECT `+passkeyCols+` FROM passkeys WHERE account_id = $1 ORDER BY created_at, id`, accountID)
}

// PasskeyByCredentialID finds a passkey by its credential ID.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (domain.Passkey, error) {
	p, err := scanPasskey(s.pool.QueryRow(ctx, `SELECT `+passkeyCols+` FROM passkeys WHERE credential_id = $1`, credentialID))
	return p, wrap("passkey by credential id", err)
}

// UsePasskey records a login with a passkey whose counter moved forward
// (or that keeps none), in one statement.
func (s *Store) UsePasskey(ctx context.Context, id string, signCount uint32, credential []byte, at time.Time) error {
	tag, err := s.pool.Exec(ctx,
		`UPDATE passkeys SET sign_count = $1, credential = $2, last_used_at = $3
		 WHERE id = $4 AND (sign_count < $5 OR (sign_count = 0 AND $6::bigint = 0))`,
		int64(signCount), credential, ts(at), id, int64(signCount), int64(signCount))
	return affected("use passkey", tag, err)
}

// DeletePasskey removes one passkey of an account and bumps its grant
// version.
func (s *Store) DeletePasskey(ctx context.Context, accountID, id string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM passkeys WHERE id = $1 AND account_id = $2`, id, accountID)
		if err := affected("delete passkey", tag, err); err != nil {
			return err
		}
		return bumpAccountGrants(ctx, tx, accountID)
	})
}

// PutChallenge keeps a ceremony's challenge.
func (s *Store) PutChallenge(ctx context.Context, c domain.WebAuthnChallenge) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO webauthn_challenges (id, account_id, purpose, data, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		c.ID, c.AccountID, c.Purpose, c.Data, ts(c.ExpiresAt))
	return wrap("insert challenge", err)
}

// TakeChallenge removes and returns an unexpired challenge, in one
// statement.
func (s *Store) TakeChallenge(ctx context.Context, id, accountID, purpose string, now time.Time) (domain.WebAuthnChallenge, error) {
	c := domain.WebAuthnChallenge{ID: id, AccountID: accountID, Purpose: purpose}
	var expires int64
	err := s.pool.QueryRow(ctx,
		`DELETE FROM webauthn_challenges WHERE id = $1 AND account_id = $2 AND purpose = $3 AND expires_at > $4 RETURNING data, expires_at`,
		id, accountID, purpose, ts(now)).Scan(&c.Data, &expires)
	if err != nil {
		return domain.WebAuthnChallenge{}, wrap("take challenge", err)
	}
	c.ExpiresAt = fromTS(expires)
	return c, nil
}

// DeleteExpiredChallenges removes challenges expired at now.
func (s *Store) DeleteExpiredChallenges(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webauthn_challenges WHERE expires_at <= $1`, ts(now))
	if err != nil {
		return 0, wrap("delete expired challenges", err)
	}
	return int(tag.RowsAffected()), nil
}

// SetRequireSecondFactor sets a home's requirement and bumps its grants
// version, logging the change.
func (s *Store) SetRequireSecondFactor(ctx context.Context, homeID string, on bool) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE homes SET require_second_factor = $1 WHERE id = $2`, on, homeID)
		if err := affected("set require second factor", tag, err); err != nil {
			return err
		}
		return bumpGrants(ctx, tx, homeID)
	})
}
