package store

import (
	"context"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// Push keeps people's Web Push subscriptions and what waits to be pushed
// (docs/design/push.md).
//
// A delivery is made by CreateEvent itself, in the event's own
// transaction, for every subscription of every member of the event's
// home: whether the person may see the event, and wants it, is decided
// when it is sent. A subscription goes with the login session that made it.
type Push interface {
	// CreatePushSubscription stores s, unless its account already has max
	// subscriptions (ErrConflict).
	CreatePushSubscription(ctx context.Context, s domain.PushSubscription, max int) error
	// PushSubscription reads one subscription.
	PushSubscription(ctx context.Context, id string) (domain.PushSubscription, error)
	// PushSubscriptions lists an account's subscriptions, oldest first.
	PushSubscriptions(ctx context.Context, accountID string) ([]domain.PushSubscription, error)
	// DeletePushSubscription removes a subscription of the account and
	// what waits for it (ErrNotFound when the account has none by that ID).
	DeletePushSubscription(ctx context.Context, accountID, id string) error
	// ClaimPushDeliveries takes up to limit deliveries due at now, oldest
	// first, and hides them from other claims until until.
	ClaimPushDeliveries(ctx context.Context, now, until time.Time, limit int) ([]domain.PushDelivery, error)
	// RetryPushDelivery sets when d is tried next and how often it was.
	RetryPushDelivery(ctx context.Context, d domain.PushDelivery) error
	// FinishPushDelivery removes d: pushed, or given up on.
	FinishPushDelivery(ctx context.Context, d domain.PushDelivery) error
	// ServerSecret returns the secret named name, storing sealed first if
	// none is stored yet; of several nodes starting at once, all get the
	// one stored first.
	ServerSecret(ctx context.Context, name string, sealed []byte, at time.Time) ([]byte, error)
}
