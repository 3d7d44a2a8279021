package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// CreateWebhook stores w within the home's bound; the one writer runs the
// count and the insert with no other write between them.
func (s *Store) CreateWebhook(ctx context.Context, w domain.Webhook, max int) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM webhooks WHERE home_id = ?`, w.HomeID).Scan(&n); err != nil {
			return wrap("count webhooks", err)
		}
		if n >= max {
			return fmt.Errorf("create webhook: %w: the home has %d webhooks", store.ErrConflict, n)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO webhooks (id, home_id, url_sealed, secret_sealed, on_event_created, on_device_online,
			on_device_offline, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			w.ID, w.HomeID, w.URLSealed, w.SecretSealed, w.Has(domain.WebhookEventCreated), w.Has(domain.WebhookDeviceOnline),
			w.Has(domain.WebhookDeviceOffline), w.CreatedBy, ts(w.CreatedAt))
		return wrap("insert webhook", err)
	})
}

const webhookCols = `id, home_id, url_sealed, secret_sealed, on_event_created, on_device_online, on_device_offline, created_by,
	created_at, failures, last_delivery_at, last_status, disabled_at, disabled_reason`

func scanWebhook(row scanner) (domain.Webhook, error) {
	var w domain.Webhook
	var created, last, disabled int64
	var onEvent, onOnline, onOffline bool
	if err := row.Scan(&w.ID, &w.HomeID, &w.URLSealed, &w.SecretSealed, &onEvent, &onOnline, &onOffline, &w.CreatedBy,
		&created, &w.Failures, &last, &w.LastStatus, &disabled, &w.DisabledReason); err != nil {
		return domain.Webhook{}, err
	}
	w.CreatedAt, w.LastDeliveryAt, w.DisabledAt = fromTS(created), fromTS(last), fromTS(disabled)
	on := map[string]bool{domain.WebhookEventCreated: onEvent, domain.WebhookDeviceOnline: onOnline, domain.WebhookDeviceOffline: onOffline}
	for _, typ := range domain.WebhookTypes() {
		if on[typ] {
			w.Types = append(w.Types, typ)
		}
	}
	return w, nil
}

// Webhooks lists a home's webhooks, oldest first.
func (s *Store) Webhooks(ctx context.Context, homeID string) ([]domain.Webhook, error) {
	return list(ctx, s.read, "list webhooks", scanWebhook,
		`SELECT `+webhookCols+` FROM webhooks WHERE home_id = ? ORDER BY created_at, id`, homeID)
}

// WebhookByID reads one webhook.
func (s *Store) WebhookByID(ctx context.Context, id string) (domain.Webhook, error) {
	w, err := scanWebhook(s.read.QueryRowContext(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = ?`, id))
	return w, wrap("webhook by id", err)
}

// DeleteWebhook removes a webhook and, by cascade, its deliveries.
func (s *Store) DeleteWebhook(ctx context.Context, homeID, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ? AND home_id = ?`, id, homeID)
		return affected("delete webhook", res, err)
	})
}

// enqueueWebhooksQuery adds a delivery for each enabled webhook of a home
// subscribing to a type; its parameters are the occurrence, the type, the
// subject, the time (twice), the home, and the type again.
const enqueueWebhooksQuery = `INSERT INTO webhook_deliveries (id, webhook_id, home_id, type, subject, at, next_at)
	SELECT 'msg_' || w.id || ?, w.id, w.home_id, ?, ?, ?, ? FROM webhooks w
	WHERE w.home_id = ? AND w.disabled_at = 0 AND CASE ?
		WHEN 'event.created' THEN w.on_event_created WHEN 'device.online' THEN w.on_device_online
		WHEN 'device.offline' THEN w.on_device_offline ELSE 0 END
	ON CONFLICT (id) DO NOTHING`

// EnqueueWebhooks adds the deliveries of typ about subject.
func (s *Store) EnqueueWebhooks(ctx context.Context, homeID, typ, subject, occurrence string, at time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, enqueueWebhooksQuery, occurrence, typ, subject, ts(at), ts(at), homeID, typ)
		if err != nil {
			return wrap("enqueue webhook deliveries", err)
		}
		n, err = res.RowsAffected()
		return wrap("enqueue webhook deliveries", err)
	})
	return int(n), err
}

const deliveryCols = `id, webhook_id, home_id, type, subject, at, attempts, next_at, state, last_error, done_at`

func scanDelivery(row scanner) (domain.WebhookDelivery, error) {
	var d domain.WebhookDelivery
	var at, next, done int64
	if err := row.Scan(&d.ID, &d.WebhookID, &d.HomeID, &d.Type, &d.Subject, &at, &d.Attempts, &next, &d.State, &d.LastError, &done); err != nil {
		return domain.WebhookDelivery{}, err
	}
	d.At, d.NextAt, d.DoneAt = fromTS(at), fromTS(next), fromTS(done)
	return d, nil
}

// ClaimWebhookDeliveries takes due deliveries of enabled webhooks.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, now, until time.Time, limit int) ([]domain.WebhookDelivery, error) {
	var out []domain.WebhookDelivery
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = list(ctx, tx, "claim webhook deliveries", scanDelivery,
			`UPDATE webhook_deliveries SET claimed_until = ? WHERE id IN (
				SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
				WHERE d.state = 'pending' AND d.next_at <= ? AND d.claimed_until <= ? AND w.disabled_at = 0
				ORDER BY d.next_at LIMIT ?)
			 RETURNING `+deliveryCols, ts(until), ts(now), ts(now), limit)
		return err
	})
	return out, err
}

// FinishWebhookAttempt records an attempt's outcome and its webhook's.
func (s *Store) FinishWebhookAttempt(ctx context.Context, d domain.WebhookDelivery, status string, now time.Time, maxFailures int, reason string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = ?, attempts = ?, next_at = ?, last_error = ?,
			done_at = ?, claimed_until = 0 WHERE id = ?`,
			d.State, d.Attempts, ts(d.NextAt), d.LastError, ts(d.DoneAt), d.ID)
		if err := affected("finish webhook attempt", res, err); err != nil {
			return err
		}
		switch d.State {
		case domain.WebhookDelivered:
			_, err = tx.ExecContext(ctx, `UPDATE webhooks SET failures = 0, last_delivery_at = ?, last_status = ? WHERE id = ?`,
				ts(now), status, d.WebhookID)
		case domain.WebhookFailed:
			_, err = tx.ExecContext(ctx, `UPDATE webhooks SET failures = failures + 1, last_delivery_at = ?, last_status = ?,
				disabled_at = CASE WHEN disabled_at = 0 AND failures + 1 >= ? THEN ? ELSE disabled_at END,
				disabled_reason = CASE WHEN disabled_at = 0 AND failures + 1 >= ? THEN ? ELSE disabled_reason END
				WHERE id = ?`, ts(now), status, maxFailures, ts(now), maxFailures, reason, d.WebhookID)
		default:
			if status == "" {
				return nil // given back untried
			}
			_, err = tx.ExecContext(ctx, `UPDATE webhooks SET last_delivery_at = ?, last_status = ? WHERE id = ?`, ts(now), status, d.WebhookID)
		}
		return wrap("record webhook outcome", err)
	})
}

// WebhookDeliveries lists a webhook's latest deliveries.
func (s *Store) WebhookDeliveries(ctx context.Context, webhookID string, limit int) ([]domain.WebhookDelivery, error) {
	return list(ctx, s.read, "list webhook deliveries", scanDelivery,
		`SELECT `+deliveryCols+` FROM webhook_deliveries WHERE webhook_id = ? ORDER BY at DESC, id DESC LIMIT ?`, webhookID, limit)
}

// PruneWebhookDeliveries removes finished deliveries older than before.
func (s *Store) PruneWebhookDeliveries(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE state != 'pending' AND done_at < ?`, ts(before))
		if err != nil {
			return wrap("prune webhook deliveries", err)
		}
		n, err = res.RowsAffected()
		return wrap("prune webhook deliveries", err)
	})
	return int(n), err
}
