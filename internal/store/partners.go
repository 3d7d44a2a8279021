package store

import (
	"context"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// Partners keeps partners, their pending authorization requests, the links
// people made with them and the links' tokens (docs/design/partners.md).
type Partners interface {
	// CreatePartner inserts p; ErrConflict if its ID is taken.
	CreatePartner(ctx context.Context, p domain.Partner) error
	PartnerByID(ctx context.Context, id string) (domain.Partner, error)
	// ListPartners lists every partner, oldest first.
	ListPartners(ctx context.Context) ([]domain.Partner, error)
	// SetPartnerDisabled disables or enables a partner and bumps its
	// version; ErrNotFound if there is no such partner.
	SetPartnerDisabled(ctx context.Context, id string, disabled bool) error

	// PutPartnerRequest inserts or replaces an authorization request.
	// ErrNotFound if its partner, account or a camera does not exist.
	PutPartnerRequest(ctx context.Context, r domain.PartnerRequest) error
	PartnerRequestByID(ctx context.Context, id string) (domain.PartnerRequest, error)
	PartnerRequestByCodeHash(ctx context.Context, hash []byte) (domain.PartnerRequest, error)
	// DeletePartnerRequest removes a request; a missing one is not an
	// error.
	DeletePartnerRequest(ctx context.Context, id string) error

	// LinkPartner consumes the request requestID and, atomically, replaces
	// any link of the same partner and account (and its tokens) with l and
	// its first tokens. ErrNotFound if the request is gone (already
	// exchanged), or a camera of l no longer exists.
	LinkPartner(ctx context.Context, requestID string, l domain.PartnerLink, tokens []domain.PartnerToken) error
	// PartnerLink reads a link with its cameras and its partner's name,
	// state and version.
	PartnerLink(ctx context.Context, id string) (domain.PartnerLink, error)
	// ListPartnerLinks lists an account's links, oldest first.
	ListPartnerLinks(ctx context.Context, accountID string) ([]domain.PartnerLink, error)
	// DeletePartnerLink removes one link of an account and its tokens;
	// ErrNotFound if the account has no such link.
	DeletePartnerLink(ctx context.Context, accountID, linkID string) error

	// PartnerTokenByHash reads a token, used or not.
	PartnerTokenByHash(ctx context.Context, hash []byte) (domain.PartnerToken, error)
	// RotatePartnerToken marks the refresh token with hash used at at and
	// inserts the new tokens, atomically. ErrNotFound if there is no such
	// token; ErrConflict if it was already used (then nothing changes).
	RotatePartnerToken(ctx context.Context, hash []byte, at time.Time, tokens []domain.PartnerToken) error
	// DeletePartnerToken removes one token; a missing one is not an error.
	DeletePartnerToken(ctx context.Context, hash []byte) error
	// DeleteExpiredPartnerData removes requests and tokens that expired
	// before t and returns how many.
	DeleteExpiredPartnerData(ctx context.Context, t time.Time) (int, error)
}
