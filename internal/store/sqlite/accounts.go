package sqlite

import (
	"context"
	"strings"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// CreateAccount inserts an account; the unique email index turns a second
// account for one email into ErrConflict.
func (s *Store) CreateAccount(ctx context.Context, a domain.Account) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO accounts (id, email_index, email_gen, email_sealed, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		a.ID, a.EmailIndex, int64(a.EmailGen), a.EmailSealed, a.PasswordHash, ts(a.CreatedAt))
	return wrap("insert account", err)
}

const accountCols = `id, email_index, email_gen, email_sealed, password_hash, created_at`

func scanAccount(row scanner) (domain.Account, error) {
	var a domain.Account
	var created, gen int64
	if err := row.Scan(&a.ID, &a.EmailIndex, &gen, &a.EmailSealed, &a.PasswordHash, &created); err != nil {
		return domain.Account{}, err
	}
	a.CreatedAt, a.EmailGen = fromTS(created), uint32(gen)
	return a, nil
}

// AccountByID reads an account.
func (s *Store) AccountByID(ctx context.Context, id string) (domain.Account, error) {
	a, err := scanAccount(s.read.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
	return a, wrap("account by id", err)
}

// AccountByEmailIndex reads an account by the blind index of its email
// under any of the generations given: one lookup of the unique index per
// value, in one statement.
func (s *Store) AccountByEmailIndex(ctx context.Context, indexes ...[]byte) (domain.Account, error) {
	switch len(indexes) {
	case 0:
		return domain.Account{}, store.ErrNotFound
	case 1:
		a, err := scanAccount(s.read.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE email_index = ?`, indexes[0]))
		return a, wrap("account by email index", err)
	}
	args := make([]any, len(indexes))
	for i, ix := range indexes {
		args[i] = ix
	}
	found, err := list(ctx, s.read, "account by email index", scanAccount,
		`SELECT `+accountCols+` FROM accounts WHERE email_index IN (?`+strings.Repeat(", ?", len(indexes)-1)+`)`, args...)
	if err != nil {
		return domain.Account{}, err
	}
	return store.FirstByIndex(found, indexes)
}
