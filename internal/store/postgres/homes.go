package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// CreateHome inserts a home and its owner in one transaction: a home never
// exists without someone who may manage it.
func (s *Store) CreateHome(ctx context.Context, h domain.Home, owner domain.Member) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			`INSERT INTO homes (id, name_sealed, wrapped_data_key, retention_days, created_at, grants_version) VALUES ($1, $2, $3, $4, $5, $6)`,
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
	h, err := scanHome(s.pool.QueryRow(ctx, `SELECT `+homeCols+` FROM homes h WHERE h.id = $1`, id))
	return h, wrap("home by id", err)
}

// UpdateHome changes a home's name and/or retention. Neither is a grant, so
// the grants version stays.
func (s *Store) UpdateHome(ctx context.Context, id string, nameSealed []byte, retentionDays *int) error {
	tag, err := s.pool.Exec(ctx,
		`UPDATE homes SET name_sealed = COALESCE($1::bytea, name_sealed), retention_days = COALESCE($2::integer, retention_days) WHERE id = $3`,
		nameSealed, retentionDays, id) // NULL keeps the column as it is
	return affected("update home", tag, err)
}

// memberRow is a members row before its camera list is attached.
type memberRow struct {
	domain.Membership
	limited bool
}

// The last column says whether the member's account has a second factor
// (a confirmed TOTP or a passkey): two lookups by primary or indexed key.
const membershipCols = homeCols + `, m.account_id, m.role, m.limited, m.added_at,
	(EXISTS (SELECT 1 FROM totp t WHERE t.account_id = m.account_id AND t.confirmed) OR
	 EXISTS (SELECT 1 FROM passkeys p WHERE p.account_id = m.account_id))`

func scanMembership(row scanner) (memberRow, error) {
	var m memberRow
	var role string
	var added int64
	var err error
	m.Home, err = scanHome(row, &m.Member.AccountID, &role, &m.limited, &added, &m.Member.SecondFactor)
	if err != nil {
		return memberRow{}, err
	}
	m.Member.HomeID, m.Member.Role, m.Member.AddedAt = m.Home.ID, domain.Role(role), fromTS(added)
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

// memberDevices reads the camera lists selected by where (a condition on
// member_devices) into a map for withDevices.
func memberDevices(ctx context.Context, q querier, where string, args ...any) (map[[2]string][]string, error) {
	type row struct{ home, account, device string }
	rows, err := list(ctx, q, "list member devices", func(sc scanner) (row, error) {
		var r row
		return r, sc.Scan(&r.home, &r.account, &r.device)
	}, `SELECT home_id, account_id, device_id FROM member_devices WHERE `+where+` ORDER BY device_id`, args...)
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
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		rows, err := list(ctx, tx, "list memberships", scanMembership,
			`SELECT `+membershipCols+` FROM members m JOIN homes h ON h.id = m.home_id
			 WHERE `+where+` ORDER BY m.added_at, m.home_id, m.account_id`, args...)
		if err != nil || len(rows) == 0 {
			return err
		}
		devices, err := memberDevices(ctx, tx, where, args...)
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
	return s.memberships(ctx, `account_id = $1`, accountID)
}

// Member reads one membership with its home's current grants version.
func (s *Store) Member(ctx context.Context, homeID, accountID string) (domain.Membership, error) {
	ms, err := s.memberships(ctx, `home_id = $1 AND account_id = $2`, homeID, accountID)
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
	ms, err := s.memberships(ctx, `home_id = $1`, homeID)
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
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := putMember(ctx, tx, m); err != nil {
			return err
		}
		return bumpGrants(ctx, tx, m.HomeID)
	})
}

// putMember writes a membership and its camera list. A replaced member
// keeps the time it joined. The upsert locks the member's row, so two
// nodes changing one member take turns and the camera list is one of
// theirs, never a mix.
func putMember(ctx context.Context, tx pgx.Tx, m domain.Member) error {
	if _, err := tx.Exec(ctx,
		`INSERT INTO members (home_id, account_id, role, limited, added_at) VALUES ($1, $2, $3, $4, $5)
		 ON CONFLICT (home_id, account_id) DO UPDATE SET role = excluded.role, limited = excluded.limited`,
		m.HomeID, m.AccountID, string(m.Role), m.Devices != nil, ts(m.AddedAt)); err != nil {
		return wrap("upsert member", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM member_devices WHERE home_id = $1 AND account_id = $2`, m.HomeID, m.AccountID); err != nil {
		return wrap("clear member devices", err)
	}
	devices := slices.Clone(m.Devices)
	slices.Sort(devices)
	for _, d := range slices.Compact(devices) {
		// Only cameras of this home: the INSERT ... SELECT inserts nothing
		// for a camera elsewhere, which is then refused and the whole
		// transaction rolled back.
		tag, err := tx.Exec(ctx,
			`INSERT INTO member_devices (home_id, account_id, device_id)
			 SELECT $1, $2, id FROM devices WHERE id = $3 AND home_id = $1`, m.HomeID, m.AccountID, d)
		if err := affected("limit member to camera", tag, err); err != nil {
			return err
		}
	}
	return nil
}

// bumpGrants moves a home's grants version, which every cached
// authorization compares (invariant 3), and logs the change for the
// nodes answering from memory. The update locks the home's row until
// commit, so concurrent bumps from several nodes each count.
func bumpGrants(ctx context.Context, tx pgx.Tx, homeID string) error {
	tag, err := tx.Exec(ctx, `UPDATE homes SET grants_version = grants_version + 1 WHERE id = $1`, homeID)
	if err := affected("bump grants version", tag, err); err != nil {
		return err
	}
	return recordChange(ctx, tx, homeID, "")
}

// DeleteMember removes a membership (its camera list goes by cascade) and
// bumps the grants version.
func (s *Store) DeleteMember(ctx context.Context, homeID, accountID string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM members WHERE home_id = $1 AND account_id = $2`, homeID, accountID)
		if err := affected("delete member", tag, err); err != nil {
			return err
		}
		return bumpGrants(ctx, tx, homeID)
	})
}
