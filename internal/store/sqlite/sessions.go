package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// CreateSession inserts a session.
func (s *Store) CreateSession(ctx context.Context, sess domain.Session) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO sessions (id, account_id, token_hash, client_sealed, created_at, last_seen_at, expires_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?)`,
		sess.ID, sess.AccountID, sess.TokenHash, sess.ClientSealed, ts(sess.CreatedAt), ts(sess.LastSeenAt), ts(sess.ExpiresAt))
	return wrap("insert session", err)
}

const sessionCols = `id, account_id, token_hash, client_sealed, created_at, last_seen_at, expires_at`

func scanSession(row scanner) (domain.Session, error) {
	var sess domain.Session
	var created, seen, expires int64
	if err := row.Scan(&sess.ID, &sess.AccountID, &sess.TokenHash, &sess.ClientSealed, &created, &seen, &expires); err != nil {
		return domain.Session{}, err
	}
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = fromTS(created), fromTS(seen), fromTS(expires)
	return sess, nil
}

// SessionByTokenHash reads a session by its token's hash. Each read starts
// a fresh WAL snapshot, so a session deleted by a committed logout is never
// seen again.
func (s *Store) SessionByTokenHash(ctx context.Context, hash []byte) (domain.Session, error) {
	sess, err := scanSession(s.read.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE token_hash = ?`, hash))
	return sess, wrap("session by token hash", err)
}

// TouchSession records a use of a session.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, ts(at), id)
	return affected("touch session", res, err)
}

// ListSessions lists an account's sessions, oldest first.
func (s *Store) ListSessions(ctx context.Context, accountID string) ([]domain.Session, error) {
	return list(ctx, s.read, "list sessions", scanSession,
		`SELECT `+sessionCols+` FROM sessions WHERE account_id = ? ORDER BY created_at, id`, accountID)
}

// DeleteSession removes one session of an account and bumps the account's
// grant version, in one transaction. The account is part of the condition,
// so nobody can end another account's session by its ID.
func (s *Store) DeleteSession(ctx context.Context, accountID, sessionID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ? AND account_id = ?`, sessionID, accountID)
		if err := affected("delete session", res, err); err != nil {
			return err
		}
		return bumpAccountGrants(ctx, tx, accountID)
	})
}

// DeleteAccountSessions removes every session of an account and bumps its
// grant version.
func (s *Store) DeleteAccountSessions(ctx context.Context, accountID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = ?`, accountID); err != nil {
			return wrap("delete account sessions", err)
		}
		return bumpAccountGrants(ctx, tx, accountID)
	})
}

// DeleteExpiredSessions removes sessions expired by t or idle since before
// idleBefore.
func (s *Store) DeleteExpiredSessions(ctx context.Context, t, idleBefore time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at < ?`, ts(t), ts(idleBefore))
	if err != nil {
		return 0, wrap("delete expired sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap("delete expired sessions", err)
	}
	return int(n), nil
}
