package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// CreateHome inserts a home and its owner in one transaction: a home never
// exists without someone who may manage it.
func (s *Store) CreateHome(ctx context.Context, h domain.Home, owner domain.Member) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO homes (id, name_sealed, wrapped_data_key, retention_days, created_at, grants_version) VALUES (?, ?, ?, ?, ?, ?)`,
			h.ID, h.NameSealed, h.WrappedDataKey, h.RetentionDays, ts(h.CreatedAt), h.GrantsVersion); err != nil {
			return wrap("insert home", err)
		}
		owner.HomeID = h.ID
		return putMember(ctx, tx, owner)
	})
}

const homeCols = `h.id, h.name_sealed, h.wrapped_data_key, h.retention_days, h.created_at, h.grants_version, h.require_second_factor`

// scanHome scans homeCols followed by extra columns.
func scanHome(row scanner, extra ...any) (domain.Home, error) {
	var h domain.Home
	var created int64
	dest := append([]any{&h.ID, &h.NameSealed, &h.WrappedDataKey, &h.RetentionDays, &created, &h.GrantsVersion, &h.RequireSecondFactor}, extra...)
	if err := row.Scan(dest...); err != nil {
		return domain.Home{}, err
	}
	h.CreatedAt = fromTS(created)
	return h, nil
}

// HomeByID reads a home.
func (s *Store) HomeByID(ctx context.Context, id string) (domain.Home, error) {
	h, err := scanHome(s.read.QueryRowContext(ctx, `SELECT `+homeCols+` FROM homes h WHERE h.id = ?`, id))
	return h, wrap("home by id", err)
}

// UpdateHome changes a home's name and/or retention. Neither is a grant, so
// the grants version stays.
func (s *Store) UpdateHome(ctx context.Context, id string, nameSealed []byte, retentionDays *int) error {
	var name, retention any // NULL keeps the column as it is
	if nameSealed != nil {
		name = nameSealed
	}
	if retentionDays != nil {
		retention = *retentionDays
	}
	res, err := s.w.ExecContext(ctx,
		`UPDATE homes SET name_sealed = COALESCE(?, name_sealed), retention_days = COALESCE(?, retention_days) WHERE id = ?`,
		name, retention, id)
	return affected("update home", res, err)
}

// memberRow is a members row before its camera list is attached.
type memberRow struct {
	domain.Membership
	limited bool
}

// The last column says whether the member's account has a second factor
// (a confirmed TOTP or a passkey): two lookups by primary or indexed key.
const membershipCols = homeCols + `, m.account_id, m.role, m.limited, m.added_at,
	(EXISTS (SELECT 1 FROM totp t WHERE t.account_id = m.account_id AND t.confirmed = 1) OR
	 EXISTS (SELECT 1 FROM passkeys p WHERE p.account_id = m.account_id))`

func scanMembership(row scanner) (memberRow, error) {
	var m memberRow
	var added int64
	var err error
	m.Home, err = scanHome(row, &m.Member.AccountID, &m.Member.Role, &m.limited, &added, &m.Member.SecondFactor)
	if err != nil {
		return memberRow{}, err
	}
	m.Member.HomeID, m.Member.AddedAt = m.Home.ID, fromTS(added)
	return m, nil
}

// withDevices attaches camera lists to limited members. devices maps
// home ID + account ID to the cameras listed for them.
func withDevices(rows []memberRow, devices map[[2]string][]string) []domain.Membership {
	out := make([]domain.Membership, 0, len(rows))
	for _, r := range rows {
		if r.limited {
			// Never nil for a limited member, even with no camera left:
			// an empty list means none, nil would mean all.
			r.Member.Devices = append([]string{}, devices[[2]string{r.Member.HomeID, r.Member.AccountID}]...)
		}
		out = append(out, r.Membership)
	}
	return out
}

func memberDevicesQuery(where string) string {
	return `SELECT home_id, account_id, device_id FROM member_devices WHERE ` + where + ` ORDER BY device_id`
}

func membershipsQuery(where string) string {
	return `SELECT ` + membershipCols + ` FROM members m JOIN homes h ON h.id = m.home_id
			 WHERE ` + where + ` ORDER BY m.added_at, m.home_id, m.account_id`
}

// memberDevices reads the camera lists selected by where (a condition on
// member_devices) into a map for withDevices.
func memberDevices(ctx context.Context, q querier, where string, args ...any) (map[[2]string][]string, error) {
	type row struct{ home, account, device string }
	rows, err := list(ctx, q, "list member devices", func(sc scanner) (row, error) {
		var r row
		return r, sc.Scan(&r.home, &r.account, &r.device)
	}, memberDevicesQuery(where), args...)
	if err != nil {
		return nil, err
	}
	m := map[[2]string][]string{}
	for _, r := range rows {
		k := [2]string{r.home, r.account}
		m[k] = append(m[k], r.device)
	}
	return m, nil
}

// memberships reads members with their homes and camera lists in one
// snapshot, so role, cameras and grants version agree.
func (s *Store) memberships(ctx context.Context, where string, args ...any) ([]domain.Membership, error) {
	var out []domain.Membership
	// Prepared before the transaction takes its connection: preparing
	// takes one from the same pool.
	s.read.stmt(ctx, membershipsQuery(where))
	s.read.stmt(ctx, memberDevicesQuery(where))
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		q := s.read.in(tx)
		rows, err := list(ctx, q, "list memberships", scanMembership, membershipsQuery(where), args...)
		if err != nil || len(rows) == 0 {
			return err
		}
		devices, err := memberDevices(ctx, q, where, args...)
		if err != nil {
			return err
		}
		out = withDevices(rows, devices)
		return nil
	})
	return out, err
}

// The conditions below name home_id and account_id unqualified: members
// and member_devices both have them and homes has neither, so one condition
// selects the memberships and their camera lists alike.

// Memberships lists an account's homes, oldest membership first.
func (s *Store) Memberships(ctx context.Context, accountID string) ([]domain.Membership, error) {
	return s.memberships(ctx, `account_id = ?`, accountID)
}

// Member reads one membership with its home's current grants version.
func (s *Store) Member(ctx context.Context, homeID, accountID string) (domain.Membership, error) {
	ms, err := s.memberships(ctx, `home_id = ? AND account_id = ?`, homeID, accountID)
	if err != nil {
		return domain.Membership{}, err
	}
	if len(ms) == 0 {
		return domain.Membership{}, fmt.Errorf("member: %w", store.ErrNotFound)
	}
	return ms[0], nil
}

// ListMembers lists a home's members, oldest first.
func (s *Store) ListMembers(ctx context.Context, homeID string) ([]domain.Member, error) {
	ms, err := s.memberships(ctx, `home_id = ?`, homeID)
	if err != nil {
		return nil, err
	}
	var out []domain.Member
	for _, m := range ms {
		out = append(out, m.Member)
	}
	return out, nil
}

// PutMember inserts or replaces a membership and bumps the grants version,
// in one transaction.
func (s *Store) PutMember(ctx context.Context, m domain.Member) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := putMember(ctx, tx, m); err != nil {
			return err
		}
		return bumpGrants(ctx, tx, m.HomeID)
	})
}

// putMember writes a membership and its camera list. A replaced member
// keeps the time it joined.
func putMember(ctx context.Context, tx *sql.Tx, m domain.Member) error {
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO members (home_id, account_id, role, limited, added_at) VALUES (?, ?, ?, ?, ?)
		 ON CONFLICT (home_id, account_id) DO UPDATE SET role = excluded.role, limited = excluded.limited`,
		m.HomeID, m.AccountID, string(m.Role), m.Devices != nil, ts(m.AddedAt)); err != nil {
		return wrap("upsert member", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM member_devices WHERE home_id = ? AND account_id = ?`, m.HomeID, m.AccountID); err != nil {
		return wrap("clear member devices", err)
	}
	devices := slices.Clone(m.Devices)
	slices.Sort(devices)
	for _, d := range slices.Compact(devices) {
		// Only cameras of this home: the INSERT ... SELECT inserts nothing
		// for a camera elsewhere, which is then refused and the whole
		// transaction rolled back.
		res, err := tx.ExecContext(ctx,
			`INSERT INTO member_devices (home_id, account_id, device_id)
			 SELECT ?, ?, id FROM devices WHERE id = ? AND home_id = ?`, m.HomeID, m.AccountID, d, m.HomeID)
		if err := affected("limit member to camera", res, err); err != nil {
			return err
		}
	}
	return nil
}

// bumpGrants moves a home's grants version, which every cached
// authorization compares (invariant 3), and logs the change for the
// nodes answering from memory.
func bumpGrants(ctx context.Context, tx *sql.Tx, homeID string) error {
	res, err := tx.ExecContext(ctx, `UPDATE homes SET grants_version = grants_version + 1 WHERE id = ?`, homeID)
	if err := affected("bump grants version", res, err); err != nil {
		return err
	}
	return recordChange(ctx, tx, homeID, "")
}

// DeleteMember removes a membership (its camera list goes by cascade) and
// bumps the grants version.
func (s *Store) DeleteMember(ctx context.Context, homeID, accountID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM members WHERE home_id = ? AND account_id = ?`, homeID, accountID)
		if err := affected("delete member", res, err); err != nil {
			return err
		}
		return bumpGrants(ctx, tx, homeID)
	})
}
