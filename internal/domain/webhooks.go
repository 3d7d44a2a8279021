package domain

import "time"

// The kinds of webhook delivery (Standard Webhooks "type").
const (
	WebhookEventCreated  = "event.created"
	WebhookDeviceOnline  = "device.online"
	WebhookDeviceOffline = "device.offline"
)

// WebhookTypes are the kinds a webhook may subscribe to.
func WebhookTypes() []string {
	return []string{WebhookEventCreated, WebhookDeviceOnline, WebhookDeviceOffline}
}

// Webhook is a home's HTTPS endpoint told of what happens in it. Its URL
// (which may hold a token of the receiver's) and signing secret are sealed
// with the home's data key, so they go with the home's key when it is
// destroyed.
type Webhook struct {
	ID           string
	HomeID       string
	URLSealed    []byte
	SecretSealed []byte
	Types        []string // a subset of WebhookTypes
	CreatedBy    string   // the account that added it
	CreatedAt    time.Time
	// Failures counts deliveries given up on since the last one that
	// arrived; past a bound the webhook is disabled.
	Failures       int
	LastDeliveryAt time.Time // zero: none yet
	LastStatus     string    // the last attempt's outcome: an HTTP status or a short error
	DisabledAt     time.Time // zero: enabled
	DisabledReason string
}

// Has reports whether w subscribes to typ.
func (w Webhook) Has(typ string) bool {
	for _, t := range w.Types {
		if t == typ {
			return true
		}
	}
	return false
}

// WebhookDelivery is one message for one webhook, kept until it arrives or
// is given up on. Its ID is the Standard Webhooks "webhook-id": the same on
// every attempt, so a receiver drops a repeat.
type WebhookDelivery struct {
	ID        string
	WebhookID string
	HomeID    string
	Type      string
	Subject   string    // the event or the camera it is about
	At        time.Time // when what it tells happened
	Attempts  int
	NextAt    time.Time
	State     string // WebhookPending, WebhookDelivered, WebhookFailed, WebhookSkipped
	LastError string
	DoneAt    time.Time
}

// The states of a delivery.
const (
	WebhookPending   = "pending"
	WebhookDelivered = "delivered"
	WebhookFailed    = "failed"  // given up on after a day of attempts
	WebhookSkipped   = "skipped" // what it told of was gone (an event deleted) before it went
)
