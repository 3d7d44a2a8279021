package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

const pushSubCols = `id, account_id, session_id, sealed, filter, created_at`

func scanPushSub(row scanner) (domain.PushSubscription, error) {
	var s domain.PushSubscription
	var at int64
	if err := row.Scan(&s.ID, &s.AccountID, &s.SessionID, &s.Sealed, &s.Filter, &at); err != nil {
		return domain.PushSubscription{}, err
	}
	s.CreatedAt = fromTS(at)
	return s, nil
}

// CreatePushSubscription stores a subscription within the account's bound;
// the account's row is locked so that two at once cannot both pass it.
func (s *Store) CreatePushSubscription(ctx context.Context, sub domain.PushSubscription, max int) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, sub.AccountID); err != nil {
			return wrap("lock account", err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM push_subscriptions WHERE account_id = $1`, sub.AccountID).Scan(&n); err != nil {
			return wrap("count push subscriptions", err)
		}
		if n >= max {
			return store.ErrConflict
		}
		_, err := tx.Exec(ctx, `INSERT INTO push_subscriptions (`+pushSubCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			sub.ID, sub.AccountID, sub.SessionID, sub.Sealed, sub.Filter, ts(sub.CreatedAt))
		return wrap("insert push subscription", err)
	})
}

// PushSubscription reads one subscription.
func (s *Store) PushSubscription(ctx context.Context, id string) (domain.PushSubscription, error) {
	sub, err := scanPushSub(s.pool.QueryRow(ctx, `SELECT `+pushSubCols+` FROM push_subscriptions WHERE id = $1`, id))
	return sub, wrap("push subscription", err)
}

// PushSubscriptions lists an account's subscriptions.
func (s *Store) PushSubscriptions(ctx context.Context, accountID string) ([]domain.PushSubscription, error) {
	return list(ctx, s.pool, "list push subscriptions", scanPushSub,
		`SELECT `+pushSubCols+` FROM push_subscriptions WHERE account_id = $1 ORDER BY created_at, id`, accountID)
}

// DeletePushSubscription removes an account's subscription.
func (s *Store) DeletePushSubscription(ctx context.Context, accountID, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM push_subscriptions WHERE id = $1 AND account_id = $2`, id, accountID)
	return affected("delete push subscription", tag, err)
}

const pushDeliveryCols = `subscription_id, event_id, home_id, at, attempts, next_at`

func scanPushDelivery(row scanner) (domain.PushDelivery, error) {
	var d domain.PushDelivery
	var at, next int64
	if err := row.Scan(&d.SubscriptionID, &d.EventID, &d.HomeID, &at, &d.Attempts, &next); err != nil {
		return domain.PushDelivery{}, err
	}
	d.At, d.NextAt = fromTS(at), fromTS(next)
	return d, nil
}

// ClaimPushDeliveries takes due deliveries; rows another node is claiming
// are skipped.
func (s *Store) ClaimPushDeliveries(ctx context.Context, now, until time.Time, limit int) ([]domain.PushDelivery, error) {
	return list(ctx, s.pool, "claim push deliveries", scanPushDelivery,
		`UPDATE push_deliveries SET claimed_until = $1 WHERE (subscription_id, event_id) IN (
			SELECT subscription_id, event_id FROM push_deliveries WHERE next_at <= $2 AND claimed_until <= $2
			ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED)
		 RETURNING `+pushDeliveryCols, ts(until), ts(now), limit)
}

// RetryPushDelivery records a failed attempt and when to try again.
func (s *Store) RetryPushDelivery(ctx context.Context, d domain.PushDelivery) error {
	_, err := s.pool.Exec(ctx, `UPDATE push_deliveries SET attempts = $1, next_at = $2, claimed_until = 0
		WHERE subscription_id = $3 AND event_id = $4`, d.Attempts, ts(d.NextAt), d.SubscriptionID, d.EventID)
	return wrap("retry push delivery", err)
}

// FinishPushDelivery removes a delivery.
func (s *Store) FinishPushDelivery(ctx context.Context, d domain.PushDelivery) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM push_deliveries WHERE subscription_id = $1 AND event_id = $2`, d.SubscriptionID, d.EventID)
	return wrap("finish push delivery", err)
}

// ServerSecret stores sealed under name unless one is, and returns it.
func (s *Store) ServerSecret(ctx context.Context, name string, sealed []byte, at time.Time) ([]byte, error) {
	var out []byte
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO server_secrets (name, sealed, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
			name, sealed, ts(at)); err != nil {
			return wrap("store server secret", err)
		}
		return wrap("read server secret", tx.QueryRow(ctx, `SELECT sealed FROM server_secrets WHERE name = $1`, name).Scan(&out))
	})
	return out, err
}
