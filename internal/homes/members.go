package homes

import (
	"context"
	"errors"
	"fmt"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// Member is a member of a home as the home's members see it.
type Member struct {
	AccountID string      `json:"account_id"`
	Email     string      `json:"email"`
	Role      domain.Role `json:"role"`
	// Limited is true when the member sees only Devices; false: every
	// camera of the home.
	Limited bool     `json:"limited"`
	Devices []string `json:"devices"`
}

const maxLimitedDevices = 256

// UpdateMember changes what an existing member may see: their role
// (viewer or admin) and, for a viewer, the cameras they are limited to.
// Becoming a member at all takes an invitation the person accepts
// (Invite); this only changes a membership they already accepted, and
// narrowing it takes effect on the next request. Owners and admins only;
// the owner's role cannot be changed.
func (s *Service) UpdateMember(ctx context.Context, p authz.Principal, homeID, accountID string, role domain.Role, devices []string) (Member, error) {
	if _, err := s.authz.Home(ctx, p, homeID, authz.ManageMembers); err != nil {
		return Member{}, err
	}
	devices, err := checkShare(role, devices)
	if err != nil {
		return Member{}, err
	}
	existing, err := s.store.Member(ctx, homeID, accountID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Member{}, apperr.NotFoundf("member")
	case err != nil:
		return Member{}, fmt.Errorf("read membership: %w", err)
	case existing.Member.Role == domain.RoleOwner:
		return Member{}, apperr.New(apperr.Forbidden, "the owner's role cannot be changed")
	}
	m := domain.Member{HomeID: homeID, AccountID: accountID, Role: role, Devices: devices, AddedAt: existing.Member.AddedAt}
	if err := s.store.PutMember(ctx, m); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Member{}, errNotHomeCameras
		}
		return Member{}, fmt.Errorf("put member: %w", err)
	}
	e := personEntry(p, AuditMemberUpdate)
	e.SubjectID, e.Detail = accountID, shareDetail(role, devices)
	if err := s.note(ctx, homeID, e); err != nil {
		return Member{}, err
	}
	return s.memberView(ctx, m)
}

// RemoveMember ends an account's membership of a home. Owners and admins
// may remove others; anyone may leave; the owner cannot be removed. Access
// ends on the next request.
func (s *Service) RemoveMember(ctx context.Context, p authz.Principal, homeID, accountID string) error {
	action := authz.ManageMembers
	leaving := p.AccountID == accountID
	if leaving {
		action = authz.ViewHome // leaving needs only membership
	}
	// A member a home's second-factor requirement refuses may still leave.
	if _, err := s.authz.Home(ctx, p, homeID, action); err != nil && !(leaving && errors.Is(err, authz.ErrSecondFactorRequired)) {
		return err
	}
	target, err := s.store.Member(ctx, homeID, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("member")
	}
	if err != nil {
		return fmt.Errorf("read membership: %w", err)
	}
	if target.Member.Role == domain.RoleOwner {
		return apperr.New(apperr.Forbidden, "the owner cannot be removed from their home")
	}
	if err := s.store.DeleteMember(ctx, homeID, accountID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apperr.NotFoundf("member")
		}
		return fmt.Errorf("delete member: %w", err)
	}
	if leaving {
		return s.note(ctx, homeID, personEntry(p, AuditMemberLeave))
	}
	e := personEntry(p, AuditMemberRemove)
	e.SubjectID = accountID
	return s.note(ctx, homeID, e)
}

// Members lists who can see what in a home. Owners and admins, who manage
// the members, see all of them. Any other member sees only what they need:
// themselves, and who manages the home (owners and admins, whose cameras
// are all of them, so no list); not the other viewers, their emails or
// which cameras they were limited to.
func (s *Service) Members(ctx context.Context, p authz.Principal, homeID string) ([]Member, error) {
	g, err := s.authz.Home(ctx, p, homeID, authz.ViewHome)
	if err != nil {
		return nil, err
	}
	manager := authz.Allows(g.Role(), authz.ManageMembers)
	list, err := s.store.ListMembers(ctx, homeID)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	out := make([]Member, 0, len(list))
	for _, m := range list {
		if !manager && m.AccountID != p.AccountID && !authz.Allows(m.Role, authz.ManageMembers) {
			continue
		}
		v, err := s.memberView(ctx, m)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *Service) memberView(ctx context.Context, m domain.Member) (Member, error) {
	a, err := s.accounts.Account(ctx, m.AccountID)
	if err != nil {
		return Member{}, err
	}
	devices := m.Devices
	if devices == nil {
		devices = []string{}
	}
	return Member{AccountID: m.AccountID, Email: a.Email, Role: m.Role, Limited: m.Devices != nil, Devices: devices}, nil
}
