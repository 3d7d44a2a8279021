package homes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// AuditOwner is the audit action of handing a home over; the actor is the
// old owner.
const AuditOwner = "home.owner"

// Deleter is what deleting an account and handing a home over need
// beyond the homes service's own store.
type Deleter interface {
	DeleteAccount(ctx context.Context, accountID string, emailIndexes [][]byte, at time.Time) (domain.AccountDeletion, error)
	TransferOwnership(ctx context.Context, homeID, from, to string) error
}

// Reauthenticator confirms that the signed-in person is there (their
// password and second factor); *identity.Service is one.
type Reauthenticator interface {
	Reauthenticate(ctx context.Context, accountID, password, otp string) error
	EmailIndexesOf(ctx context.Context, accountID string) ([][]byte, error)
}

// Deletion deletes accounts and hands homes over (docs/design/deletion.md).
type Deletion struct {
	homes  *Service
	store  Deleter
	reauth Reauthenticator
	// forget drops what this node holds in memory of a deleted home (its
	// unwrapped data key, opened thumbnails); the other nodes drop it
	// when they read the deletion in the change log.
	forget func(homeID string)
	// removed is told once blobs were queued for removal.
	removed func()
	log     *slog.Logger
}

// NewDeletion returns the deletion service.
func NewDeletion(h *Service, st Deleter, r Reauthenticator, forget func(homeID string), removed func(), log *slog.Logger) *Deletion {
	return &Deletion{homes: h, store: st, reauth: r, forget: forget, removed: removed, log: log}
}

// ownsSharedHome is the answer while an account owns a home with other
// members.
func ownsSharedHome(homeID string) error {
	return apperr.New(apperr.OwnsSharedHome,
		"you own home %s, which has other members: make one of its admins the owner (or remove the members) first", homeID)
}

// DeleteAccount deletes p's account once they confirmed it with their
// password (and second factor): the homes it owns alone go at once with
// their data keys, so nothing of theirs opens any more on any node; their
// blobs are removed in the background. Its sessions end, its homes'
// cameras stop working, invitations from and to it end, and its email is
// free again. Refused while a home it owns has other members.
func (d *Deletion) DeleteAccount(ctx context.Context, p authz.Principal, password, otp string) error {
	if !p.IsPerson() {
		return apperr.New(apperr.Unauthorized, "a person's session is required")
	}
	if err := d.reauth.Reauthenticate(ctx, p.AccountID, password, otp); err != nil {
		return err
	}
	// Said first with the home's name, so the person knows which; the
	// store checks again in the deleting transaction.
	ms, err := d.homes.store.Memberships(ctx, p.AccountID)
	if err != nil {
		return fmt.Errorf("memberships: %w", err)
	}
	for _, m := range ms {
		if m.Member.Role != domain.RoleOwner {
			continue
		}
		members, err := d.homes.store.ListMembers(ctx, m.Home.ID)
		if err != nil {
			return fmt.Errorf("members: %w", err)
		}
		if len(members) > 1 {
			return ownsSharedHome(m.Home.ID)
		}
	}
	indexes, err := d.reauth.EmailIndexesOf(ctx, p.AccountID)
	if err != nil {
		return err
	}
	del, err := d.store.DeleteAccount(ctx, p.AccountID, indexes, d.homes.now())
	switch {
	case errors.Is(err, store.ErrConflict):
		return apperr.New(apperr.OwnsSharedHome, "a home you own has other members: make one of its admins the owner first")
	case errors.Is(err, store.ErrNotFound):
		return apperr.New(apperr.Unauthorized, "no such account")
	case err != nil:
		return fmt.Errorf("delete account: %w", err)
	}
	// Committed. The cameras' open connections close on whichever node
	// holds them; this node drops the homes' keys now, the others when
	// they read the change log (before the deleting request is answered:
	// the store propagates the change first).
	for _, dev := range del.Devices {
		d.homes.conns.Revoke(ctx, dev)
	}
	for _, h := range del.Homes {
		d.forget(h)
	}
	if d.removed != nil {
		d.removed()
	}
	d.log.InfoContext(ctx, "account deleted", "account", p.AccountID, "homes", del.Homes, "devices", len(del.Devices))
	return nil
}

// TransferOwnership makes another member of a home its owner: only the
// owner may, and only to one of the home's admins; the old owner becomes
// an admin. A home the caller is not a member of answers as a missing
// one.
func (d *Deletion) TransferOwnership(ctx context.Context, p authz.Principal, homeID, to string) error {
	g, err := d.homes.authz.Home(ctx, p, homeID, authz.ViewHome)
	if err != nil {
		return err
	}
	if g.Role() != domain.RoleOwner {
		return apperr.New(apperr.Forbidden, "only the owner may hand the home over")
	}
	if to == p.AccountID {
		return apperr.New(apperr.Invalid, "you already own this home")
	}
	target, err := d.homes.store.Member(ctx, homeID, to)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apperr.NotFoundf("member")
	case err != nil:
		return fmt.Errorf("read membership: %w", err)
	case target.Member.Role != domain.RoleAdmin:
		return apperr.New(apperr.Invalid, "the new owner must be an admin of the home: make them an admin first")
	}
	if err := d.store.TransferOwnership(ctx, homeID, p.AccountID, to); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apperr.New(apperr.Conflict, "the home's members changed meanwhile; try again")
		}
		return fmt.Errorf("transfer ownership: %w", err)
	}
	if err := d.homes.audit.Record(ctx, homeID, audit.Entry{ActorKind: domain.PrincipalPerson, ActorID: p.AccountID,
		Action: AuditOwner, Result: audit.ResultOK}); err != nil {
		return fmt.Errorf("audit home.owner: %w", err)
	}
	return nil
}
