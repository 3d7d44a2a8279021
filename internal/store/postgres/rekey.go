package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// sealedColumns names each sealed column's table, key and column. The
// names are fixed here, never taken from a caller.
var sealedColumns = map[store.SealedColumn][3]string{
	store.HomeDataKeys:   {"homes", "id", "wrapped_data_key"},
	store.AccountEmails:  {"accounts", "id", "email_sealed"},
	store.SessionClients: {"sessions", "id", "client_sealed"},
	store.TOTPSecrets:    {"totp", "account_id", "secret_sealed"},
	store.PushEndpoints:  {"push_subscriptions", "id", "sealed"},
	store.ServerSecrets:  {"server_secrets", "name", "sealed"},
}

func sealedColumn(col store.SealedColumn) (table, id, value string, err error) {
	c, ok := sealedColumns[col]
	if !ok {
		return "", "", "", fmt.Errorf("no sealed column %q", col)
	}
	return c[0], c[1], c[2], nil
}

// KeyUse counts the values each generation made: the generation in the
// header of sealed values (bytes 2 to 5), the recorded one of the others.
func (s *Store) KeyUse(ctx context.Context) (domain.KeyUse, error) {
	var u domain.KeyUse
	for _, c := range []struct {
		into  *map[uint32]int64
		query string
	}{
		{&u.DataKeys, `SELECT substring(wrapped_data_key from 2 for 4), COUNT(*) FROM homes GROUP BY 1`},
		{&u.Emails, `SELECT substring(email_sealed from 2 for 4), COUNT(*) FROM accounts GROUP BY 1`},
		{&u.EmailIndexes, `SELECT int8send(email_gen), COUNT(*) FROM accounts GROUP BY 1`},
		{&u.SessionClients, `SELECT substring(client_sealed from 2 for 4), COUNT(*) FROM sessions WHERE length(client_sealed) > 0 GROUP BY 1`},
		{&u.TOTPSecrets, `SELECT substring(secret_sealed from 2 for 4), COUNT(*) FROM totp GROUP BY 1`},
		{&u.PushEndpoints, `SELECT substring(sealed from 2 for 4), COUNT(*) FROM push_subscriptions GROUP BY 1`},
		{&u.ServerSecrets, `SELECT substring(sealed from 2 for 4), COUNT(*) FROM server_secrets GROUP BY 1`},
		{&u.Invitations, `SELECT int8send(email_gen), COUNT(*) FROM invitations GROUP BY 1`},
		{&u.AuditEntries, `SELECT int8send(key_gen), COUNT(*) FROM audit GROUP BY 1`},
		{&u.AuditHeads, `SELECT int8send(key_gen), COUNT(*) FROM audit_heads GROUP BY 1`},
	} {
		m, err := countByGeneration(ctx, s.pool, c.query)
		if err != nil {
			return domain.KeyUse{}, err
		}
		*c.into = m
	}
	return u, nil
}

// countByGeneration runs a query of (generation, count) rows; the
// generation comes as big-endian bytes: the 4 header bytes of a sealed
// value, or 8 of a number (anything else, an unreadable value, counts
// under 0).
func countByGeneration(ctx context.Context, q querier, query string) (map[uint32]int64, error) {
	type row struct {
		gen uint32
		n   int64
	}
	rows, err := list(ctx, q, "count values by key generation", func(sc scanner) (row, error) {
		var r row
		var gen []byte
		if err := sc.Scan(&gen, &r.n); err != nil {
			return r, err
		}
		switch len(gen) {
		case 4:
			r.gen = binary.BigEndian.Uint32(gen)
		case 8:
			r.gen = uint32(binary.BigEndian.Uint64(gen))
		}
		return r, nil
	}, query)
	if err != nil {
		return nil, err
	}
	m := map[uint32]int64{}
	for _, r := range rows {
		m[r.gen] += r.n
	}
	return m, nil
}

// SealedValues lists a sealed column's values by row ID.
func (s *Store) SealedValues(ctx context.Context, col store.SealedColumn, afterID string, limit int) ([]store.SealedValue, error) {
	table, id, value, err := sealedColumn(col)
	if err != nil || limit <= 0 {
		return nil, err
	}
	return list(ctx, s.pool, "list "+string(col), func(sc scanner) (store.SealedValue, error) {
		var v store.SealedValue
		return v, sc.Scan(&v.ID, &v.Value)
	}, `SELECT `+id+`, `+value+` FROM `+table+` WHERE `+id+` > $1 AND length(`+value+`) > 0 ORDER BY `+id+` LIMIT $2`, afterID, limit)
}

// Reseal sets the values still as they were read, in one transaction.
func (s *Store) Reseal(ctx context.Context, col store.SealedColumn, changes []store.Reseal) (int, error) {
	table, id, value, err := sealedColumn(col)
	if err != nil {
		return 0, err
	}
	n := 0
	err = s.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		for _, c := range changes {
			tag, err := tx.Exec(ctx, `UPDATE `+table+` SET `+value+` = $1 WHERE `+id+` = $2 AND `+value+` = $3`, c.New, c.ID, c.Old)
			if err != nil {
				return wrap("reseal "+string(col), err)
			}
			n += int(tag.RowsAffected())
		}
		return nil
	})
	return n, err
}

// AccountsAfter lists accounts by ID.
func (s *Store) AccountsAfter(ctx context.Context, afterID string, limit int) ([]domain.Account, error) {
	if limit <= 0 {
		return nil, nil
	}
	return list(ctx, s.pool, "list accounts", scanAccount,
		`SELECT `+accountCols+` FROM accounts WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
}

// ReindexEmails sets the email indexes still as they were read, unless
// another account holds the new one. The unique index decides a race with
// a sign-up: the transaction then fails whole, and a rotation run again
// finds the new account.
func (s *Store) ReindexEmails(ctx context.Context, changes []store.EmailReindex) (int, []string, error) {
	n := 0
	var conflicts []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		n, conflicts = 0, nil
		for _, c := range changes {
			var holder string
			err := tx.QueryRow(ctx, `SELECT id FROM accounts WHERE email_index = $1 AND id <> $2`, c.New, c.ID).Scan(&holder)
			switch {
			case err == nil:
				conflicts = append(conflicts, c.ID)
				continue
			case !errors.Is(err, pgx.ErrNoRows):
				return wrap("reindex email", err)
			}
			tag, err := tx.Exec(ctx, `UPDATE accounts SET email_index = $1, email_gen = $2 WHERE id = $3 AND email_index = $4`,
				c.New, int64(c.Gen), c.ID, c.Old)
			if err != nil {
				return wrap("reindex email", err)
			}
			n += int(tag.RowsAffected())
		}
		return nil
	})
	return n, conflicts, err
}

// InvitationsAfter lists invitations by ID, with their camera lists.
func (s *Store) InvitationsAfter(ctx context.Context, afterID string, limit int) ([]domain.Invitation, error) {
	if limit <= 0 {
		return nil, nil
	}
	return s.invitations(ctx, `i.id > $1 ORDER BY i.id LIMIT $2`, afterID, limit)
}

// ReindexInvitations sets the email indexes still as they were read; an
// invitation another of its home replaced goes.
func (s *Store) ReindexInvitations(ctx context.Context, changes []store.EmailReindex) (int, []string, error) {
	n := 0
	var removed []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		n, removed = 0, nil
		for _, c := range changes {
			tag, err := tx.Exec(ctx, `DELETE FROM invitations i WHERE i.id = $1 AND i.email_index = $2 AND EXISTS
				(SELECT 1 FROM invitations o WHERE o.home_id = i.home_id AND o.email_index = $3 AND o.id <> i.id)`,
				c.ID, c.Old, c.New)
			if err != nil {
				return wrap("remove replaced invitation", err)
			}
			if tag.RowsAffected() > 0 {
				removed = append(removed, c.ID)
				continue
			}
			tag, err = tx.Exec(ctx, `UPDATE invitations SET email_index = $1, email_gen = $2 WHERE id = $3 AND email_index = $4`,
				c.New, int64(c.Gen), c.ID, c.Old)
			if err != nil {
				return wrap("reindex invitation", err)
			}
			n += int(tag.RowsAffected())
		}
		return nil
	})
	return n, removed, err
}
