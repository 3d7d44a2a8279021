package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// enqueuePushQuery makes an event's push deliveries in its transaction:
// one for each subscription of each member of its home.
const enqueuePushQuery = `INSERT INTO push_deliveries (subscription_id, event_id, home_id, at, next_at)
	SELECT s.id, ?1, ?2, ?3, ?3 FROM push_subscriptions s JOIN members m ON m.account_id = s.account_id AND m.home_id = ?2
	ON CONFLICT DO NOTHING`

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

// CreatePushSubscription stores a subscription within the account's bound.
func (s *Store) CreatePushSubscription(ctx context.Context, sub domain.PushSubscription, max int) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM push_subscriptions WHERE account_id = ?`, sub.AccountID).Scan(&n); err != nil {
			return wrap("count push subscriptions", err)
		}
		if n >= max {
			return store.ErrConflict
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO push_subscriptions (`+pushSubCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
			sub.ID, sub.AccountID, sub.SessionID, sub.Sealed, sub.Filter, ts(sub.CreatedAt))
		return wrap("insert push subscription", err)
	})
}

// PushSubscription reads one subscription.
func (s *Store) PushSubscription(ctx context.Context, id string) (domain.PushSubscription, error) {
	sub, err := scanPushSub(s.read.QueryRowContext(ctx, `SELECT `+pushSubCols+` FROM push_subscriptions WHERE id = ?`, id))
	return sub, wrap("push subscription", err)
}

// PushSubscriptions lists an account's subscriptions.
func (s *Store) PushSubscriptions(ctx context.Context, accountID string) ([]domain.PushSubscription, error) {
	return list(ctx, s.read, "list push subscriptions", scanPushSub,
		`SELECT `+pushSubCols+` FROM push_subscriptions WHERE account_id = ? ORDER BY created_at, id`, accountID)
}

// DeletePushSubscription removes an account's subscription.
func (s *Store) DeletePushSubscription(ctx context.Context, accountID, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM push_subscriptions WHERE id = ? AND account_id = ?`, id, accountID)
		return affected("delete push subscription", res, err)
	})
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

// ClaimPushDeliveries takes due deliveries.
func (s *Store) ClaimPushDeliveries(ctx context.Context, now, until time.Time, limit int) ([]domain.PushDelivery, error) {
	var out []domain.PushDelivery
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = list(ctx, tx, "claim push deliveries", scanPushDelivery,
			`UPDATE push_deliveries SET claimed_until = ? WHERE (subscription_id, event_id) IN (
				SELECT subscription_id, event_id FROM push_deliveries WHERE next_at <= ? AND claimed_until <= ?
				ORDER BY next_at LIMIT ?)
			 RETURNING `+pushDeliveryCols, ts(until), ts(now), ts(now), limit)
		return err
	})
	return out, err
}

// RetryPushDelivery records a failed attempt and when to try again.
func (s *Store) RetryPushDelivery(ctx context.Context, d domain.PushDelivery) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE push_deliveries SET attempts = ?, next_at = ?, claimed_until = 0
			WHERE subscription_id = ? AND event_id = ?`, d.Attempts, ts(d.NextAt), d.SubscriptionID, d.EventID)
		return wrap("retry push delivery", err)
	})
}

// FinishPushDelivery removes a delivery.
func (s *Store) FinishPushDelivery(ctx context.Context, d domain.PushDelivery) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM push_deliveries WHERE subscription_id = ? AND event_id = ?`, d.SubscriptionID, d.EventID)
		return wrap("finish push delivery", err)
	})
}

// ServerSecret stores sealed under name unless one is, and returns it.
func (s *Store) ServerSecret(ctx context.Context, name string, sealed []byte, at time.Time) ([]byte, error) {
	var out []byte
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO server_secrets (name, sealed, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
			name, sealed, ts(at)); err != nil {
			return wrap("store server secret", err)
		}
		err := tx.QueryRowContext(ctx, `SELECT sealed FROM server_secrets WHERE name = ?`, name).Scan(&out)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		return wrap("read server secret", err)
	})
	return out, err
}
