package sqlite

import (
	"context"

	"github.com/camvault/camvault/internal/domain"
)

// CreateAccount inserts an account; the unique email index turns a second
// account for one email into ErrConflict.
func (s *Store) CreateAccount(ctx context.Context, a domain.Account) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO accounts (id, email_index, email_sealed, password_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
		a.ID, a.EmailIndex, a.EmailSealed, a.PasswordHash, ts(a.CreatedAt))
	return wrap("insert account", err)
}

const accountCols = `id, email_index, email_sealed, password_hash, created_at`

func scanAccount(row scanner) (domain.Account, error) {
	var a domain.Account
	var created int64
	if err := row.Scan(&a.ID, &a.EmailIndex, &a.EmailSealed, &a.PasswordHash, &created); err != nil {
		return domain.Account{}, err
	}
	a.CreatedAt = fromTS(created)
	return a, nil
}

// AccountByID reads an account.
func (s *Store) AccountByID(ctx context.Context, id string) (domain.Account, error) {
	a, err := scanAccount(s.read.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
	return a, wrap("account by id", err)
}

// AccountByEmailIndex reads an account by the blind index of its email.
func (s *Store) AccountByEmailIndex(ctx context.Context, index []byte) (domain.Account, error) {
	a, err := scanAccount(s.read.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE email_index = ?`, index))
	return a, wrap("account by email index", err)
}
