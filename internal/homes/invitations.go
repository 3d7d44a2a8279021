package homes

import (
	"cmp"
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/store"
)

// The audit log's actions for invitations (docs/design/authorization.md).
const (
	AuditInvite  = "invitation.create"  // an owner or admin invited someone; the actor is the inviter
	AuditAccept  = "invitation.accept"  // the invitee accepted and is a member; the actor is the invitee
	AuditDecline = "invitation.decline" // the invitee declined
	AuditCancel  = "invitation.cancel"  // an owner or admin took the invitation back
)

// maxListedInvitations bounds how many invitations a person is shown: the
// newest, however many homes invited them.
const maxListedInvitations = 50

// Invitation is a new invitation as its inviter is told of it.
type Invitation struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ReceivedInvitation is a pending invitation as its invitee sees it.
type ReceivedInvitation struct {
	ID        string      `json:"id"`
	HomeName  string      `json:"home_name"`
	Role      domain.Role `json:"role"`
	InvitedBy string      `json:"invited_by"` // the inviter's email
	ExpiresAt time.Time   `json:"expires_at"`
}

// SentInvitation is a pending invitation as the home's owners and admins
// see it.
type SentInvitation struct {
	ID        string      `json:"id"`
	Email     string      `json:"email"`
	Role      domain.Role `json:"role"`
	Limited   bool        `json:"limited"`
	Devices   []string    `json:"devices"`
	InvitedBy string      `json:"invited_by"` // the inviter's email
	ExpiresAt time.Time   `json:"expires_at"`
}

func invitationEmailAD(homeID, invitationID string) []byte {
	return keys.AD("invitation-email", homeID, invitationID)
}

// Invite invites email to a home, as a viewer (limited to devices when
// any are given) or an admin. Nothing is shared until the person with that
// email accepts; inviting the same email again replaces the invitation.
// The answer, and the work done for it, are the same whether or not an
// account has the email: nothing here reads accounts. Owners and admins
// only; a home has at most InvitationsPerHome pending invitations and a
// person at most InvitationsPerInviter.
func (s *Service) Invite(ctx context.Context, p authz.Principal, homeID, email string, role domain.Role, devices []string) (Invitation, error) {
	g, err := s.authz.Home(ctx, p, homeID, authz.ManageMembers)
	if err != nil {
		return Invitation{}, err
	}
	devices, err = checkShare(role, devices)
	if err != nil {
		return Invitation{}, err
	}
	email, index, err := s.accounts.EmailIndex(email)
	if err != nil {
		return Invitation{}, err
	}
	dk, err := s.dataKey(g.Membership.Home)
	if err != nil {
		return Invitation{}, err
	}
	now := s.now()
	inv := domain.Invitation{ID: id.New(), HomeID: homeID, EmailIndex: index, EmailGen: s.keys.Current(), Role: role, Devices: devices,
		InvitedBy: p.AccountID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.InvitationTTL)}
	inv.EmailSealed = dk.Seal([]byte(email), invitationEmailAD(homeID, inv.ID))
	switch err := s.store.CreateInvitation(ctx, inv, s.cfg.InvitationsPerHome, s.cfg.InvitationsPerInviter); {
	case errors.Is(err, store.ErrNotFound):
		return Invitation{}, errNotHomeCameras
	case errors.Is(err, store.ErrConflict):
		return Invitation{}, apperr.New(apperr.Conflict,
			"too many invitations are waiting (at most %d for a home, %d from one person); cancel some or let them expire",
			s.cfg.InvitationsPerHome, s.cfg.InvitationsPerInviter)
	case err != nil:
		return Invitation{}, fmt.Errorf("create invitation: %w", err)
	}
	if err := s.record(ctx, p, homeID, AuditInvite); err != nil {
		return Invitation{}, err
	}
	return Invitation{ID: inv.ID, ExpiresAt: inv.ExpiresAt}, nil
}

var errNotHomeCameras = apperr.New(apperr.Invalid, "devices must be camera IDs of this home")

// checkShare validates a role and camera list given to someone (by
// invitation or to a member) and returns the list in its stored form:
// nil for every camera, else sorted without repeats.
func checkShare(role domain.Role, devices []string) ([]string, error) {
	if role != domain.RoleViewer && role != domain.RoleAdmin {
		return nil, apperr.New(apperr.Invalid, `role must be "viewer" or "admin"`)
	}
	if len(devices) > 0 && role != domain.RoleViewer {
		return nil, apperr.New(apperr.Invalid, "only a viewer can be limited to cameras")
	}
	if len(devices) > maxLimitedDevices {
		return nil, apperr.New(apperr.Invalid, "at most %d cameras", maxLimitedDevices)
	}
	if len(devices) == 0 {
		return nil, nil // every camera of the home
	}
	for _, d := range devices {
		if !id.Valid(d) {
			return nil, errNotHomeCameras
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(devices))), nil
}

// record appends an invitation's step to the home's audit log, with the
// person as actor.
func (s *Service) record(ctx context.Context, p authz.Principal, homeID, action string) error {
	if err := s.audit.Record(ctx, homeID, audit.Entry{ActorKind: domain.PrincipalPerson, ActorID: p.AccountID,
		Action: action, Result: audit.ResultOK}); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// emailIndexesOf are the blind indexes of p's current email under every
// master key generation, the current one first: an invitation made before
// a rotation rewrote it is found by an older one.
func (s *Service) emailIndexesOf(ctx context.Context, p authz.Principal) ([][]byte, error) {
	if !p.IsPerson() {
		return nil, apperr.New(apperr.Unauthorized, "a person's session is required")
	}
	a, err := s.accounts.Account(ctx, p.AccountID)
	if err != nil {
		return nil, err
	}
	_, indexes, err := s.accounts.EmailIndexes(a.Email)
	return indexes, err
}

// Invitations lists the pending invitations to p's email, newest first
// (at most 50).
func (s *Service) Invitations(ctx context.Context, p authz.Principal) ([]ReceivedInvitation, error) {
	indexes, err := s.emailIndexesOf(ctx, p)
	if err != nil {
		return nil, err
	}
	var list []domain.Invitation
	for _, index := range indexes { // one per master key generation
		more, err := s.store.InvitationsTo(ctx, index, s.now(), maxListedInvitations)
		if err != nil {
			return nil, fmt.Errorf("list invitations: %w", err)
		}
		list = append(list, more...)
	}
	if len(indexes) > 1 {
		slices.SortFunc(list, func(a, b domain.Invitation) int {
			return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
		})
		list = list[:min(len(list), maxListedInvitations)]
	}
	names := people{accounts: s.accounts}
	out := make([]ReceivedInvitation, 0, len(list))
	for _, inv := range list {
		h, err := s.homeByID(ctx, inv.HomeID)
		if err != nil {
			return nil, err
		}
		dk, err := s.dataKey(h)
		if err != nil {
			return nil, err
		}
		name, err := dk.Open(h.NameSealed, homeNameAD(h.ID))
		if err != nil {
			return nil, fmt.Errorf("open name of home %s: %w", h.ID, err)
		}
		by, err := names.email(ctx, inv.InvitedBy)
		if err != nil {
			return nil, err
		}
		out = append(out, ReceivedInvitation{ID: inv.ID, HomeName: string(name), Role: inv.Role, InvitedBy: by, ExpiresAt: inv.ExpiresAt})
	}
	return out, nil
}

// HomeInvitations lists a home's pending invitations, newest first, to
// its owners and admins.
func (s *Service) HomeInvitations(ctx context.Context, p authz.Principal, homeID string) ([]SentInvitation, error) {
	g, err := s.authz.Home(ctx, p, homeID, authz.ManageMembers)
	if err != nil {
		return nil, err
	}
	list, err := s.store.HomeInvitations(ctx, homeID, s.now())
	if err != nil {
		return nil, fmt.Errorf("list invitations: %w", err)
	}
	dk, err := s.dataKey(g.Membership.Home)
	if err != nil {
		return nil, err
	}
	names := people{accounts: s.accounts}
	out := make([]SentInvitation, 0, len(list))
	for _, inv := range list {
		email, err := dk.Open(inv.EmailSealed, invitationEmailAD(homeID, inv.ID))
		if err != nil {
			return nil, fmt.Errorf("open email of invitation %s: %w", inv.ID, err)
		}
		by, err := names.email(ctx, inv.InvitedBy)
		if err != nil {
			return nil, err
		}
		devices := inv.Devices
		if devices == nil {
			devices = []string{}
		}
		out = append(out, SentInvitation{ID: inv.ID, Email: string(email), Role: inv.Role, Limited: inv.Devices != nil,
			Devices: devices, InvitedBy: by, ExpiresAt: inv.ExpiresAt})
	}
	return out, nil
}

// people names accounts by email, each read once.
type people struct {
	accounts Accounts
	seen     map[string]string
}

func (n *people) email(ctx context.Context, accountID string) (string, error) {
	if e, ok := n.seen[accountID]; ok {
		return e, nil
	}
	a, err := n.accounts.Account(ctx, accountID)
	if err != nil {
		return "", err
	}
	if n.seen == nil {
		n.seen = map[string]string{}
	}
	n.seen[accountID] = a.Email
	return a.Email, nil
}

var errNoInvitation = apperr.NotFoundf("invitation")

// AcceptInvitation makes p a member of the home that invited p's email,
// with the role and cameras offered, and uses the invitation up. Anyone
// but the invitee, and an invitation that expired, was used or taken
// back, gets the same not-found as a missing one.
func (s *Service) AcceptInvitation(ctx context.Context, p authz.Principal, invitationID string) error {
	indexes, err := s.emailIndexesOf(ctx, p)
	if err != nil {
		return err
	}
	var m domain.Member
	for _, index := range indexes { // the invitation is to one of them
		if m, err = s.store.AcceptInvitation(ctx, invitationID, index, p.AccountID, s.now()); !errors.Is(err, store.ErrNotFound) {
			break
		}
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNoInvitation
	case errors.Is(err, store.ErrConflict):
		return apperr.New(apperr.Conflict, "you own this home; decline the invitation instead")
	case err != nil:
		return fmt.Errorf("accept invitation: %w", err)
	}
	return s.record(ctx, p, m.HomeID, AuditAccept)
}

// DeleteInvitation is the invitee declining an invitation, or an owner or
// admin of its home taking it back. Anyone else gets the same not-found
// as for a missing invitation.
func (s *Service) DeleteInvitation(ctx context.Context, p authz.Principal, invitationID string) error {
	indexes, err := s.emailIndexesOf(ctx, p)
	if err != nil {
		return err
	}
	inv, err := s.store.Invitation(ctx, invitationID)
	if errors.Is(err, store.ErrNotFound) {
		return errNoInvitation
	}
	if err != nil {
		return fmt.Errorf("read invitation: %w", err)
	}
	if !s.now().Before(inv.ExpiresAt) {
		return errNoInvitation
	}
	action := AuditDecline
	if !slices.ContainsFunc(indexes, func(ix []byte) bool { return hmac.Equal(inv.EmailIndex, ix) }) {
		if _, err := s.authz.Home(ctx, p, inv.HomeID, authz.ManageMembers); err != nil {
			if c := apperr.CodeOf(err); c == apperr.NotFound || c == apperr.Forbidden {
				// Not a member, or one who cannot share: the invitation
				// is none of theirs, so it is not there.
				return errNoInvitation
			}
			return err
		}
		action = AuditCancel
	}
	if err := s.store.DeleteInvitation(ctx, invitationID); errors.Is(err, store.ErrNotFound) {
		return errNoInvitation
	} else if err != nil {
		return fmt.Errorf("delete invitation: %w", err)
	}
	return s.record(ctx, p, inv.HomeID, action)
}

// SweepInvitations removes expired invitations. They are refused anyway;
// this only keeps the table small.
func (s *Service) SweepInvitations(ctx context.Context) (int, error) {
	n, err := s.store.DeleteExpiredInvitations(ctx, s.now())
	if err != nil {
		return 0, fmt.Errorf("sweep invitations: %w", err)
	}
	return n, nil
}

// InvitationEmail opens an invitation's sealed email with its home's data
// key, for a master key rotation to compute its index again
// (internal/rekey).
func InvitationEmail(k *keys.Keyring, h domain.Home, inv domain.Invitation) (string, error) {
	dk, err := k.UnwrapDataKey(h.WrappedDataKey, h.ID)
	if err != nil {
		return "", fmt.Errorf("data key of home %s: %w", h.ID, err)
	}
	email, err := dk.Open(inv.EmailSealed, invitationEmailAD(h.ID, inv.ID))
	if err != nil {
		return "", fmt.Errorf("open email of invitation %s: %w", inv.ID, err)
	}
	return string(email), nil
}
