package server

import (
	"context"
	"log/slog"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/grantnotice"
	"github.com/camvault/camvault/internal/store"
)

// dropCachedGrants is what a node does with a grant notice from any node:
// it drops the cached memberships the notice concerns. A stale entry would
// be a miss on its next use anyway (a cached grant is used only when its
// version is the store's current one), so this only frees the memory, or
// the shared Redis entry, sooner; correctness never waits for it.
func dropCachedGrants(c *cache.Cache, st store.Store, log *slog.Logger) func(context.Context, grantnotice.Notice) {
	drop := func(ctx context.Context, homeID, accountID string) {
		if err := c.Delete(ctx, authz.GrantKey(homeID, accountID), homeID); err != nil {
			log.Debug("dropping a cached grant", "err", err)
		}
	}
	return func(ctx context.Context, n grantnotice.Notice) {
		switch {
		case n.HomeID != "" && n.AccountID != "":
			drop(ctx, n.HomeID, n.AccountID)
		case n.AccountID != "": // a logout: the account's every home
			ms, err := st.Memberships(ctx, n.AccountID)
			if err != nil {
				return
			}
			for _, m := range ms {
				drop(ctx, m.Home.ID, n.AccountID)
			}
		default: // a camera unpaired: every member of its home
			members, err := st.ListMembers(ctx, n.HomeID)
			if err != nil {
				return
			}
			for _, m := range members {
				drop(ctx, n.HomeID, m.AccountID)
			}
		}
	}
}
