package cache

import (
	"context"

	"github.com/camvault/camvault/internal/domain"
)

type requesterKey struct{}

type requester struct {
	kind domain.PrincipalKind
	id   string
}

// WithRequester notes in ctx who a lookup is made for, so that a mismatch
// can say who would have received the refused entry.
func WithRequester(ctx context.Context, kind domain.PrincipalKind, id string) context.Context {
	return context.WithValue(ctx, requesterKey{}, requester{kind, id})
}

// Requester returns who ctx says a lookup is made for.
func Requester(ctx context.Context) (kind domain.PrincipalKind, id string) {
	r, _ := ctx.Value(requesterKey{}).(requester)
	return r.kind, r.id
}
