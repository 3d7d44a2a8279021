package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// CreateWebhook stores w within the home's bound; the home's row lock
// orders concurrent creations in one home.
func (s *Store) CreateWebhook(ctx context.Context, w domain.Webhook, max int) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM homes WHERE id = $1 FOR NO KEY UPDATE`, w.HomeID).Scan(&one); err != nil {
			return wrap("lock home", err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM webhooks WHERE home_id = $1`, w.HomeID).Scan(&n); err != nil {
			return wrap("count webhooks", err)
		}
		if n >= max {
			return fmt.Errorf("create webhook: %w: the home has %d webhooks", store.ErrConflict, n)
		}
		_, err := tx.Exec(ctx, `INSERT INTO webhooks (id, home_id, url_sealed, secret_sealed, on_event_created, on_device_online,
			on_device_offline, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			w.ID, w.HomeID, w.URLSealed, w.SecretSealed, w.Has(domain.WebhookEventCreated), w.Has(domain.WebhookDeviceOnline),
			w.Has(domain.WebhookDeviceOffline), w.CreatedBy, ts(w.CreatedAt))
		return wrap("insert webhook", err)
	})
}

const webhookCols = `id, home_id, url_sealed, secret_sealed, on_event_created, on_device_online, on_device_offline, created_by,
	created_at, failures, last_delivery_at, last_status, disabled_at, disabled_reason`

func scanWebhook(row scanner) (domain.Webhook, error) {
	var w domain.Webhook
	var created, last, disabled, failures int64
	var onEvent, onOnline, onOffline bool
	if err := row.Scan(&w.ID, &w.HomeID, &w.URLSealed, &w.SecretSealed, &onEvent, &onOnline, &onOffline, &w.CreatedBy,
		&created, &failures, &last, &w.LastStatus, &disabled, &w.DisabledReason); err != nil {
		return domain.Webhook{}, err
	}
	w.CreatedAt, w.LastDeliveryAt, w.DisabledAt, w.Failures = fromTS(created), fromTS(last), fromTS(disabled), int(failures)
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
	return list(ctx, s.pool, "list webhooks", scanWebhook,
		`SELECT `+webhookCols+` FROM webhooks WHERE home_id = $1 ORDER BY created_at, id`, homeID)
}

// WebhookByID reads one webhook.
func (s *Store) WebhookByID(ctx context.Context, id string) (domain.Webhook, error) {
	w, err := scanWebhook(s.pool.QueryRow(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = $1`, id))
	return w, wrap("webhook by id", err)
}

// DeleteWebhook removes a webhook and, by cascade, its deliveries.
func (s *Store) DeleteWebhook(ctx context.Context, homeID, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhooks WHERE id = $1 AND home_id = $2`, id, homeID)
	return affected("delete webhook", tag, err)
}

// enqueueWebhooksSelect selects a delivery for each enabled webhook of a
// home subscribing to a type, for an INSERT; $1 is the occurrence, $2 the
// type, $3 the subject, $4 the time, $5 the home.
const enqueueWebhooksSelect = `SELECT 'msg_' || w.id || $1, w.id, w.home_id, $2, $3, $4, $4 FROM webhooks w
	WHERE w.home_id = $5 AND w.disabled_at = 0 AND CASE $2
		WHEN 'event.created' THEN w.on_event_created WHEN 'device.online' THEN w.on_device_online
		WHEN 'device.offline' THEN w.on_device_offline ELSE FALSE END`

// EnqueueWebhooks adds the deliveries of typ about subject.
func (s *Store) EnqueueWebhooks(ctx context.Context, homeID, typ, subject, occurrence string, at time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO webhook_deliveries (id, webhook_id, home_id, type, subject, at, next_at) `+
		enqueueWebhooksSelect+` ON CONFLICT (id) DO NOTHING`, occurrence, typ, subject, ts(at), homeID)
	if err != nil {
		return 0, wrap("enqueue webhook deliveries", err)
	}
	return int(tag.RowsAffected()), nil
}

const deliveryCols = `id, webhook_id, home_id, type, subject, at, attempts, next_at, state, last_error, done_at`

func scanDelivery(row scanner) (domain.WebhookDelivery, error) {
	var d domain.WebhookDelivery
	var at, next, done, attempts int64
	if err := row.Scan(&d.ID, &d.WebhookID, &d.HomeID, &d.Type, &d.Subject, &at, &attempts, &next, &d.State, &d.LastError, &done); err != nil {
		return domain.WebhookDelivery{}, err
	}
	d.At, d.NextAt, d.DoneAt, d.Attempts = fromTS(at), fromTS(next), fromTS(done), int(attempts)
	return d, nil
}

// ClaimWebhookDeliveries takes due deliveries of enabled webhooks; rows
// another node is claiming are skipped, not waited for.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, now, until time.Time, limit int) ([]domain.WebhookDelivery, error) {
	return list(ctx, s.pool, "claim webhook deliveries", scanDelivery,
		`UPDATE webhook_deliveries SET claimed_until = $1 WHERE id IN (
			SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.state = 'pending' AND d.next_at <= $2 AND d.claimed_until <= $2 AND w.disabled_at = 0
			ORDER BY d.next_at LIMIT $3 FOR UPDATE OF d SKIP LOCKED)
		 RETURNING `+deliveryCols, ts(until), ts(now), limit)
}

// FinishWebhookAttempt records an attempt's outcome and its webhook's.
func (s *Store) FinishWebhookAttempt(ctx context.Context, d domain.WebhookDelivery, status string, now time.Time, maxFailures int, reason string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET state = $1, attempts = $2, next_at = $3, last_error = $4,
			done_at = $5, claimed_until = 0 WHERE id = $6`,
			d.State, d.Attempts, ts(d.NextAt), d.LastError, ts(d.DoneAt), d.ID)
		if err := affected("finish webhook attempt", tag, err); err != nil {
			return err
		}
		switch d.State {
		case domain.WebhookDelivered:
			_, err = tx.Exec(ctx, `UPDATE webhooks SET failures = 0, last_delivery_at = $1, last_status = $2 WHERE id = $3`,
				ts(now), status, d.WebhookID)
		case domain.WebhookFailed:
			_, err = tx.Exec(ctx, `UPDATE webhooks SET failures = failures + 1, last_delivery_at = $1, last_status = $2,
				disabled_at = CASE WHEN disabled_at = 0 AND failures + 1 >= $3 THEN $1 ELSE disabled_at END,
				disabled_reason = CASE WHEN disabled_at = 0 AND failures + 1 >= $3 THEN $4 ELSE disabled_reason END
				WHERE id = $5`, ts(now), status, maxFailures, reason, d.WebhookID)
		default:
			if status == "" {
				return nil // given back untried
			}
			_, err = tx.Exec(ctx, `UPDATE webhooks SET last_delivery_at = $1, last_status = $2 WHERE id = $3`, ts(now), status, d.WebhookID)
		}
		return wrap("record webhook outcome", err)
	})
}

// WebhookDeliveries lists a webhook's latest deliveries.
func (s *Store) WebhookDeliveries(ctx context.Context, webhookID string, limit int) ([]domain.WebhookDelivery, error) {
	return list(ctx, s.pool, "list webhook deliveries", scanDelivery,
		`SELECT `+deliveryCols+` FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY at DESC, id DESC LIMIT $2`, webhookID, limit)
}

// PruneWebhookDeliveries removes finished deliveries older than before.
func (s *Store) PruneWebhookDeliveries(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_deliveries WHERE state != 'pending' AND done_at < $1`, ts(before))
	if err != nil {
		return 0, wrap("prune webhook deliveries", err)
	}
	return int(tag.RowsAffected()), nil
}
