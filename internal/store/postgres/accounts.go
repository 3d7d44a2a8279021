package postgres

import (
	"context"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// CreateAccount inserts an account; the unique email index turns a second
// account for one email into ErrConflict, whichever node each arrived at.
func (s *Store) CreateAccount(ctx context.Context, a domain.Account) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO accounts (id, email_index, email_gen, email_sealed, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
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
	a, err := scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1`, id))
	return a, wrap("account by id", err)
}

// AccountByEmailIndex reads an account by the blind index of its email
// under any of the generations given: one statement, an index lookup per
// value.
func (s *Store) AccountByEmailIndex(ctx context.Context, indexes ...[]byte) (domain.Account, error) {
	switch len(indexes) {
	case 0:
		return domain.Account{}, store.ErrNotFound
	case 1:
		a, err := scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE email_index = $1`, indexes[0]))
		return a, wrap("account by email index", err)
	}
	found, err := list(ctx, s.pool, "account by email index", scanAccount,
		`SELECT `+accountCols+` FROM accounts WHERE email_index = ANY($1)`, indexes)
	if err != nil {
		return domain.Account{}, err
	}
	return store.FirstByIndex(found, indexes)
}
