package httpapi

import (
	"context"

	"github.com/camvault/camvault/internal/authz"
)

type ctxKey int

const ctxPrincipal ctxKey = iota

func principal(ctx context.Context) authz.Principal {
	p, _ := ctx.Value(ctxPrincipal).(authz.Principal)
	return p
}

func withPrincipal(ctx context.Context, p authz.Principal) context.Context {
	return context.WithValue(ctx, ctxPrincipal, p)
}
