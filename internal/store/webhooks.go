package store

import (
	"context"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// Webhooks are homes' webhooks and their deliveries
// (docs/design/webhooks.md).
//
// A delivery of event.created is made by CreateEvent itself, in the
// event's own transaction, for every enabled webhook of the home that
// subscribes to it: an acknowledged event is told at least once, whatever
// fails after. Presence deliveries are enqueued after the presence is
// written (EnqueueWebhooks).
type Webhooks interface {
	// CreateWebhook stores w, unless its home already has max webhooks
	// (ErrConflict).
	CreateWebhook(ctx context.Context, w domain.Webhook, max int) error
	// Webhooks lists a home's webhooks, oldest first.
	Webhooks(ctx context.Context, homeID string) ([]domain.Webhook, error)
	// WebhookByID reads one webhook.
	WebhookByID(ctx context.Context, id string) (domain.Webhook, error)
	// DeleteWebhook removes a webhook of the home and its deliveries.
	DeleteWebhook(ctx context.Context, homeID, id string) error
	// EnqueueWebhooks adds a delivery of typ about subject for every
	// enabled webhook of the home subscribing to typ; each delivery's ID is
	// "msg_" + the webhook's ID + occurrence. It returns how many.
	EnqueueWebhooks(ctx context.Context, homeID, typ, subject, occurrence string, at time.Time) (int, error)
	// ClaimWebhookDeliveries takes up to limit pending deliveries due at
	// now, of enabled webhooks, oldest first, and hides them from other
	// claims until until: of several nodes, one sends each attempt.
	ClaimWebhookDeliveries(ctx context.Context, now, until time.Time, limit int) ([]domain.WebhookDelivery, error)
	// FinishWebhookAttempt records an attempt's outcome: d with its new
	// State (delivered, failed, skipped, or still pending with its next
	// attempt at NextAt), Attempts and LastError. status is what the
	// webhook shows as its last outcome; "" (a pending delivery given back
	// untried) leaves the webhook as it is. A delivery that arrived resets
	// the webhook's failures; one given up on adds one, and the webhook is
	// disabled with reason once it has maxFailures.
	FinishWebhookAttempt(ctx context.Context, d domain.WebhookDelivery, status string, now time.Time, maxFailures int, reason string) error
	// WebhookDeliveries lists a webhook's latest deliveries, newest first.
	WebhookDeliveries(ctx context.Context, webhookID string, limit int) ([]domain.WebhookDelivery, error)
	// PruneWebhookDeliveries removes deliveries finished before t.
	PruneWebhookDeliveries(ctx context.Context, before time.Time) (int, error)
}
