package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/camvault/camvault/internal/store"
)

// CreateHome inserts a home and its owner in one transaction.
func (s *Store) CreateHome(ctx context.Context, h store.Home, owner store.Member) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO homes (id, name_sealed, wrapped_data_key, retention_days, created_at, grants_version) VALUES (?, ?, ?, ?, ?, ?)`,
			h.ID, h.NameSealed, h.WrappedDataKey, h.RetentionDays, ts(h.CreatedAt), h.GrantsVersion); err != nil {
			return fmt.Errorf("insert home: %w", mapErr(err))
		}
		owner.HomeID = h.ID
		return putMember(ctx, tx, owner)
	})
}

const homeCols = `h.id, h.name_sealed, h.wrapped_data_key, h.retention_days, h.created_at, h.grants_version`

func scanHome(row interface{ Scan(...any) error }, extra ...any) (store.Home, error) {
	var h store.Home
	var created int64
	dest := append([]any{&h.ID, &h.NameSealed, &h.WrappedDataKey, &h.RetentionDays, &created, &h.GrantsVersion}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.Home{}, mapErr(err)
	}
	h.CreatedAt = fromTS(created)
	return h, nil
}

// HomeByID reads a home.
func (s *Store) HomeByID(ctx context.Context, id string) (store.Home, error) {
	return scanHome(s.r.QueryRowContext(ctx, `SELECT `+homeCols+` FROM homes h WHERE h.id = ?`, id))
}

// UpdateHome changes a home's name and/or retention.
func (s *Store) UpdateHome(ctx context.Context, id string, nameSealed []byte, retentionDays *int) error {
	var name any // NULL keeps the name
	if nameSealed != nil {
		name = nameSealed
	}
	return affected(s.w.ExecContext(ctx,
		`UPDATE homes SET name_sealed = COALESCE(?, name_sealed), retention_days = COALESCE(?, retention_days) WHERE id = ?`,
		name, retentionDays, id))
}

// Memberships lists an account's homes, oldest membership first.
func (s *Store) Memberships(ctx context.Context, accountID string) ([]store.Membership, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT `+homeCols+`, m.role, m.limited, m.added_at FROM members m JOIN homes h ON h.id = m.home_id
		 WHERE m.account_id = ? ORDER BY m.added_at, h.id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	defer rows.Close()
	var out []store.Membership
	var limited []bool
	for rows.Next() {
		var m store.Membership
		var added int64
		var lim bool
		if m.Home, err = scanHome(rows, &m.Member.Role, &lim, &added); err != nil {
			return nil, fmt.Errorf("scan membership: %w", err)
		}
		m.Member.HomeID, m.Member.AccountID, m.Member.AddedAt = m.Home.ID, accountID, fromTS(added)
		out = append(out, m)
		limited = append(limited, lim)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if limited[i] {
			if out[i].Member.Devices, err = memberDevices(ctx, s.r, out[i].Home.ID, accountID); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Member reads one membership with its home, in one read transaction so
// the role, the camera list and the grants version agree.
func (s *Store) Member(ctx context.Context, homeID, accountID string) (store.Membership, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.Membership{}, fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback()
	var m store.Membership
	var added int64
	var limited bool
	m.Home, err = scanHome(tx.QueryRowContext(ctx,
		`SELECT `+homeCols+`, m.role, m.limited, m.added_at FROM members m JOIN homes h ON h.id = m.home_id
		 WHERE m.home_id = ? AND m.account_id = ?`, homeID, accountID), &m.Member.Role, &limited, &added)
	if err != nil {
		return store.Membership{}, err
	}
	m.Member.HomeID, m.Member.AccountID, m.Member.AddedAt = homeID, accountID, fromTS(added)
	if limited {
		if m.Member.Devices, err = memberDevices(ctx, tx, homeID, accountID); err != nil {
			return store.Membership{}, err
		}
	}
	return m, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func memberDevices(ctx context.Context, q querier, homeID, accountID string) ([]string, error) {
	rows, err := q.QueryContext(ctx,
		`SELECT device_id FROM member_devices WHERE home_id = ? AND account_id = ? ORDER BY device_id`, homeID, accountID)
	if err != nil {
		return nil, fmt.Errorf("list member devices: %w", err)
	}
	defer rows.Close()
	out := []string{} // limited: never nil, even when empty
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ListMembers lists a home's members, oldest first.
func (s *Store) ListMembers(ctx context.Context, homeID string) ([]store.Member, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT account_id, role, limited, added_at FROM members WHERE home_id = ? ORDER BY added_at, account_id`, homeID)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	defer rows.Close()
	var out []store.Member
	var limited []bool
	for rows.Next() {
		m := store.Member{HomeID: homeID}
		var added int64
		var lim bool
		if err := rows.Scan(&m.AccountID, &m.Role, &lim, &added); err != nil {
			return nil, err
		}
		m.AddedAt = fromTS(added)
		out = append(out, m)
		limited = append(limited, lim)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if limited[i] {
			if out[i].Devices, err = memberDevices(ctx, s.r, homeID, out[i].AccountID); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// PutMember inserts or replaces a membership and bumps the grants version.
func (s *Store) PutMember(ctx context.Context, m store.Member) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := putMember(ctx, tx, m); err != nil {
			return err
		}
		return bumpGrants(ctx, tx, m.HomeID)
	})
}

func putMember(ctx context.Context, tx *sql.Tx, m store.Member) error {
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO members (home_id, account_id, role, limited, added_at) VALUES (?, ?, ?, ?, ?)
		 ON CONFLICT (home_id, account_id) DO UPDATE SET role = excluded.role, limited = excluded.limited`,
		m.HomeID, m.AccountID, string(m.Role), m.Devices != nil, ts(m.AddedAt)); err != nil {
		return fmt.Errorf("upsert member: %w", mapErr(err))
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM member_devices WHERE home_id = ? AND account_id = ?`, m.HomeID, m.AccountID); err != nil {
		return fmt.Errorf("clear member devices: %w", err)
	}
	for _, d := range m.Devices {
		// Only cameras of this home: the INSERT ... SELECT inserts nothing
		// for a camera elsewhere, which is then refused.
		res, err := tx.ExecContext(ctx,
			`INSERT INTO member_devices (home_id, account_id, device_id)
			 SELECT ?, ?, id FROM devices WHERE id = ? AND home_id = ?`, m.HomeID, m.AccountID, d, m.HomeID)
		if err := affected(res, err); err != nil {
			return fmt.Errorf("limit member to device: %w", err)
		}
	}
	return nil
}

func bumpGrants(ctx context.Context, tx *sql.Tx, homeID string) error {
	res, err := tx.ExecContext(ctx, `UPDATE homes SET grants_version = grants_version + 1 WHERE id = ?`, homeID)
	if err := affected(res, err); err != nil {
		return fmt.Errorf("bump grants version: %w", err)
	}
	return nil
}

// DeleteMember removes a membership and bumps the grants version.
func (s *Store) DeleteMember(ctx context.Context, homeID, accountID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM members WHERE home_id = ? AND account_id = ?`, homeID, accountID)
		if err := affected(res, err); err != nil {
			return err
		}
		return bumpGrants(ctx, tx, homeID)
	})
}
