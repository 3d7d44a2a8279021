package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/camvault/camvault/internal/store"
)

// CreateAccount inserts an account.
func (s *Store) CreateAccount(ctx context.Context, a store.Account) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO accounts (id, email_index, email_sealed, password_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
		a.ID, a.EmailIndex, a.EmailSealed, a.PasswordHash, ts(a.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert account: %w", mapErr(err))
	}
	return nil
}

const accountCols = `id, email_index, email_sealed, password_hash, created_at`

func scanAccount(row interface{ Scan(...any) error }) (store.Account, error) {
	var a store.Account
	var created int64
	if err := row.Scan(&a.ID, &a.EmailIndex, &a.EmailSealed, &a.PasswordHash, &created); err != nil {
		return store.Account{}, mapErr(err)
	}
	a.CreatedAt = fromTS(created)
	return a, nil
}

// AccountByID reads an account.
func (s *Store) AccountByID(ctx context.Context, id string) (store.Account, error) {
	return scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
}

// AccountByEmailIndex reads an account by the blind index of its email.
func (s *Store) AccountByEmailIndex(ctx context.Context, index []byte) (store.Account, error) {
	return scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE email_index = ?`, index))
}

// CreateSession inserts a session.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO sessions (id, account_id, token_hash, client_sealed, created_at, last_seen_at, expires_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?)`,
		sess.ID, sess.AccountID, sess.TokenHash, sess.ClientSealed, ts(sess.CreatedAt), ts(sess.LastSeenAt), ts(sess.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert session: %w", mapErr(err))
	}
	return nil
}

const sessionCols = `id, account_id, token_hash, client_sealed, created_at, last_seen_at, expires_at`

func scanSession(row interface{ Scan(...any) error }) (store.Session, error) {
	var sess store.Session
	var created, seen, expires int64
	if err := row.Scan(&sess.ID, &sess.AccountID, &sess.TokenHash, &sess.ClientSealed, &created, &seen, &expires); err != nil {
		return store.Session{}, mapErr(err)
	}
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = fromTS(created), fromTS(seen), fromTS(expires)
	return sess, nil
}

// SessionByTokenHash reads a session by its token's hash. Each read starts
// a fresh WAL snapshot, so a session deleted by a committed logout is never
// seen again.
func (s *Store) SessionByTokenHash(ctx context.Context, hash []byte) (store.Session, error) {
	return scanSession(s.r.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE token_hash = ?`, hash))
}

// TouchSession records a use of a session.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	if err := affected(s.w.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, ts(at), id)); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// ListSessions lists an account's sessions, oldest first.
func (s *Store) ListSessions(ctx context.Context, accountID string) ([]store.Session, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE account_id = ? ORDER BY created_at, id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("scan session: %w", err)
		}
		out = append(out, sess)
	}
	return out, rows.Err()
}

// DeleteSession removes one session of an account.
func (s *Store) DeleteSession(ctx context.Context, accountID, sessionID string) error {
	return affected(s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id = ? AND account_id = ?`, sessionID, accountID))
}

// DeleteAccountSessions removes every session of an account.
func (s *Store) DeleteAccountSessions(ctx context.Context, accountID string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = ?`, accountID); err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes expired and idle sessions.
func (s *Store) DeleteExpiredSessions(ctx context.Context, t, idleBefore time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at < ?`, ts(t), ts(idleBefore))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
