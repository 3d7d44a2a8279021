package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// pendingInvitation is the condition on invitations i that makes an
// invitation pending at the time in parameter $n: unexpired, and its
// inviter still an owner or admin of the home.
func pendingInvitation(n int) string {
	return fmt.Sprintf(`i.expires_at > $%d AND EXISTS (SELECT 1 FROM members m
	WHERE m.home_id = i.home_id AND m.account_id = i.invited_by AND m.role IN ('owner', 'admin'))`, n)
}

// CreateInvitation replaces any invitation of the home to the same email
// and inserts inv, within the bounds, in one transaction. Nodes inviting
// at once take turns: the transaction first locks the home's row and then
// the inviter's account row (FOR NO KEY UPDATE, which leaves the foreign
// keys' share locks free), so each count is made with no other invitation
// of that home or inviter being added. Every transaction that takes both
// takes them in that order, so they never deadlock on each other.
func (s *Store) CreateInvitation(ctx context.Context, inv domain.Invitation, perHome, perInviter int) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM homes WHERE id = $1 FOR NO KEY UPDATE`, inv.HomeID).Scan(&one); err != nil {
			return wrap("lock home", err)
		}
		if err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, inv.InvitedBy).Scan(&one); err != nil {
			return wrap("lock inviter", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM invitations WHERE home_id = $1 AND email_index = $2`, inv.HomeID, inv.EmailIndex); err != nil {
			return wrap("replace invitation", err)
		}
		var home, inviter int
		if err := tx.QueryRow(ctx,
			`SELECT (SELECT count(*) FROM invitations WHERE home_id = $1 AND expires_at > $3),
			        (SELECT count(*) FROM invitations WHERE invited_by = $2 AND expires_at > $3)`,
			inv.HomeID, inv.InvitedBy, ts(inv.CreatedAt)).Scan(&home, &inviter); err != nil {
			return wrap("count invitations", err)
		}
		if home >= perHome || inviter >= perInviter {
			return fmt.Errorf("create invitation: %w: too many pending invitations", store.ErrConflict)
		}
		if _, err := tx.Exec(ctx,
			`INSERT INTO invitations (id, home_id, email_index, email_gen, email_sealed, role, limited, invited_by, created_at, expires_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			inv.ID, inv.HomeID, inv.EmailIndex, int64(inv.EmailGen), inv.EmailSealed, string(inv.Role), inv.Devices != nil, inv.InvitedBy,
			ts(inv.CreatedAt), ts(inv.ExpiresAt)); err != nil {
			return wrap("insert invitation", err)
		}
		devices := slices.Clone(inv.Devices)
		slices.Sort(devices)
		for _, d := range slices.Compact(devices) {
			// Only cameras of this home, as for members.
			tag, err := tx.Exec(ctx,
				`INSERT INTO invitation_devices (invitation_id, device_id) SELECT $1, id FROM devices WHERE id = $2 AND home_id = $3`,
				inv.ID, d, inv.HomeID)
			if err := affected("limit invitation to camera", tag, err); err != nil {
				return err
			}
		}
		return nil
	})
}

const invitationCols = `i.id, i.home_id, i.email_index, i.email_gen, i.email_sealed, i.role, i.limited, i.invited_by, i.created_at, i.expires_at`

// invitationRow is an invitations row before its camera list is attached.
type invitationRow struct {
	domain.Invitation
	limited bool
}

func scanInvitation(row scanner) (invitationRow, error) {
	var r invitationRow
	var role string
	var created, expires, gen int64
	if err := row.Scan(&r.ID, &r.HomeID, &r.EmailIndex, &gen, &r.EmailSealed, &role, &r.limited, &r.InvitedBy, &created, &expires); err != nil {
		return invitationRow{}, err
	}
	r.Role, r.CreatedAt, r.ExpiresAt, r.EmailGen = domain.Role(role), fromTS(created), fromTS(expires), uint32(gen)
	return r, nil
}

// invitations reads the invitations selected by where (a condition on
// invitations i, then ORDER BY and LIMIT) with their camera lists, in one
// snapshot.
func (s *Store) invitations(ctx context.Context, where string, args ...any) ([]domain.Invitation, error) {
	var out []domain.Invitation
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		rows, err := list(ctx, tx, "list invitations", scanInvitation, `SELECT `+invitationCols+` FROM invitations i WHERE `+where, args...)
		if err != nil || len(rows) == 0 {
			return err
		}
		type pair struct{ invitation, device string }
		devs, err := list(ctx, tx, "list invitation cameras", func(sc scanner) (pair, error) {
			var p pair
			return p, sc.Scan(&p.invitation, &p.device)
		}, `SELECT invitation_id, device_id FROM invitation_devices
		    WHERE invitation_id IN (SELECT i.id FROM invitations i WHERE `+where+`) ORDER BY device_id`, args...)
		if err != nil {
			return err
		}
		byInvitation := map[string][]string{}
		for _, d := range devs {
			byInvitation[d.invitation] = append(byInvitation[d.invitation], d.device)
		}
		out = make([]domain.Invitation, 0, len(rows))
		for _, r := range rows {
			if r.limited {
				// Never nil when limited, even with no camera left.
				r.Devices = append([]string{}, byInvitation[r.ID]...)
			}
			out = append(out, r.Invitation)
		}
		return nil
	})
	return out, err
}

// Invitation reads one invitation, pending or not.
func (s *Store) Invitation(ctx context.Context, id string) (domain.Invitation, error) {
	list, err := s.invitations(ctx, `i.id = $1`, id)
	if err != nil {
		return domain.Invitation{}, err
	}
	if len(list) == 0 {
		return domain.Invitation{}, fmt.Errorf("invitation: %w", store.ErrNotFound)
	}
	return list[0], nil
}

// InvitationsTo lists the invitations to an email index pending at now,
// newest first.
func (s *Store) InvitationsTo(ctx context.Context, emailIndex []byte, now time.Time, limit int) ([]domain.Invitation, error) {
	return s.invitations(ctx, `i.email_index = $1 AND `+pendingInvitation(2)+` ORDER BY i.created_at DESC, i.id DESC LIMIT $3`,
		emailIndex, ts(now), limit)
}

// HomeInvitations lists a home's invitations pending at now, newest
// first.
func (s *Store) HomeInvitations(ctx context.Context, homeID string, now time.Time) ([]domain.Invitation, error) {
	return s.invitations(ctx, `i.home_id = $1 AND `+pendingInvitation(2)+` ORDER BY i.created_at DESC, i.id DESC`, homeID, ts(now))
}

// AcceptInvitation consumes a pending invitation and makes the account a
// member, in one transaction. It locks the home's row, as CreateInvitation
// does first, and then the invitation's: of two accepts on any nodes, the
// second waits for the first, then finds the invitation gone.
func (s *Store) AcceptInvitation(ctx context.Context, id string, emailIndex []byte, accountID string, now time.Time) (domain.Member, error) {
	var m domain.Member
	err := s.tx(ctx, func(tx pgx.Tx) error {
		m = domain.Member{AccountID: accountID, AddedAt: now}
		if err := tx.QueryRow(ctx, `SELECT home_id FROM invitations WHERE id = $1`, id).Scan(&m.HomeID); err != nil {
			return wrap("accept invitation", err)
		}
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM homes WHERE id = $1 FOR NO KEY UPDATE`, m.HomeID).Scan(&one); err != nil {
			return wrap("lock home", err)
		}
		var role string
		var limited bool
		if err := tx.QueryRow(ctx, `SELECT i.role, i.limited FROM invitations i
			WHERE i.id = $1 AND i.home_id = $4 AND i.email_index = $3 AND `+pendingInvitation(2)+` FOR UPDATE OF i`,
			id, ts(now), emailIndex, m.HomeID).Scan(&role, &limited); err != nil {
			return wrap("accept invitation", err)
		}
		m.Role = domain.Role(role)
		var current string
		switch err := tx.QueryRow(ctx, `SELECT role FROM members WHERE home_id = $1 AND account_id = $2`, m.HomeID, accountID).Scan(&current); {
		case err == nil && domain.Role(current) == domain.RoleOwner:
			return fmt.Errorf("accept invitation: %w: the account owns the home", store.ErrConflict)
		case err != nil && !errors.Is(err, pgx.ErrNoRows):
			return wrap("read membership", err)
		}
		if limited {
			devs, err := list(ctx, tx, "list invitation cameras", func(sc scanner) (string, error) {
				var d string
				return d, sc.Scan(&d)
			}, `SELECT d.device_id FROM invitation_devices d JOIN devices v ON v.id = d.device_id
			    WHERE d.invitation_id = $1 AND v.home_id = $2 ORDER BY d.device_id`, id, m.HomeID)
			if err != nil {
				return err
			}
			m.Devices = append([]string{}, devs...)
		}
		if err := putMember(ctx, tx, m); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM invitations WHERE id = $1`, id); err != nil {
			return wrap("consume invitation", err)
		}
		return bumpGrants(ctx, tx, m.HomeID)
	})
	if err != nil {
		return domain.Member{}, err
	}
	return m, nil
}

// DeleteInvitation removes an invitation (its camera list goes by
// cascade).
func (s *Store) DeleteInvitation(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM invitations WHERE id = $1`, id)
	return affected("delete invitation", tag, err)
}

// DeleteExpiredInvitations removes invitations that expired before now.
func (s *Store) DeleteExpiredInvitations(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM invitations WHERE expires_at <= $1`, ts(now))
	if err != nil {
		return 0, wrap("delete expired invitations", err)
	}
	return int(tag.RowsAffected()), nil
}
