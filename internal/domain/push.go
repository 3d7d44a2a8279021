package domain

import "time"

// PushSubscription is one browser of a person that asked for
// notifications (Web Push), tied to the login session that subscribed it.
// Sealed holds its endpoint and keys (personal data); Filter its choices,
// as the push service's JSON.
type PushSubscription struct {
	ID        string
	AccountID string
	SessionID string
	Sealed    []byte
	Filter    string
	CreatedAt time.Time
}

// PushDelivery is one event waiting to be pushed to one subscription: made
// with the event, removed once pushed or given up on.
type PushDelivery struct {
	SubscriptionID string
	EventID        string
	HomeID         string
	At             time.Time
	Attempts       int
	NextAt         time.Time
}
