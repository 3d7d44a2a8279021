package store

import (
	"context"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// EventScope is one home an event query may read, and within it either
// every camera (Devices nil) or only the listed ones.
type EventScope struct {
	HomeID  string
	Devices []string
}

// EventQuery selects events newest first: started before (BeforeTime,
// BeforeID) in (started_at, id) order, at most Limit. With AfterTime set
// it selects events started after (AfterTime, AfterID) instead, oldest
// first: the events newer than one, which an event's page links to.
type EventQuery struct {
	Scopes     []EventScope
	Kinds      []domain.EventKind // empty: every kind
	BeforeTime time.Time
	BeforeID   string // with BeforeTime: the cursor of the last event seen
	AfterTime  time.Time
	AfterID    string // with AfterTime: the event to read the newer ones of
	Limit      int
}

// Ascending reports whether q reads oldest first.
func (q EventQuery) Ascending() bool { return !q.AfterTime.IsZero() }

// Events keeps event records.
type Events interface {
	// CreateEvent inserts e. If the device already has an event with the
	// same DeviceEventID, nothing is inserted and the existing event is
	// returned with created false.
	CreateEvent(ctx context.Context, e domain.Event) (stored domain.Event, created bool, err error)
	// EventByID reads a live event (not one being deleted).
	EventByID(ctx context.Context, id string) (domain.Event, error)
	// EventByDeviceEventID reads a device's event, live or being deleted,
	// by the device's own ID for it.
	EventByDeviceEventID(ctx context.Context, deviceID, deviceEventID string) (domain.Event, error)
	// UploadTarget reads in one query what an upload needs before it
	// stores anything: the wrapped data key of the home, and the ID of the
	// device's event with deviceEventID, live or being deleted ("" when
	// the device sent none: not a retry). ErrNotFound if the home does
	// not exist.
	UploadTarget(ctx context.Context, homeID, deviceID, deviceEventID string) (wrappedKey []byte, existingID string, err error)
	ListEvents(ctx context.Context, q EventQuery) ([]domain.Event, error)
	// MarkEventDeleted hides an event from every read and queues its blobs
	// for removal; ErrNotFound if it is not live.
	MarkEventDeleted(ctx context.Context, id string, at time.Time) (domain.Event, error)
	// MarkExpiredEvents marks deleted the events received (CreatedAt)
	// longer ago than their home's retention at now, whatever time the
	// camera gave them, at most limit, and returns how many.
	MarkExpiredEvents(ctx context.Context, now time.Time, limit int) (int, error)
	// DeletedEvents lists events marked deleted whose blobs may remain.
	DeletedEvents(ctx context.Context, limit int) ([]domain.Event, error)
	// PurgeEvent records that a deleted event's blobs are gone. The row
	// stays as a tombstone, so a camera retrying the same event ID gets the
	// same answer and does not bring the event back; ErrNotFound if the
	// event is live or already purged.
	PurgeEvent(ctx context.Context, id string, at time.Time) error
	// DropTombstones removes tombstones purged before t, and returns how
	// many.
	DropTombstones(ctx context.Context, before time.Time) (int, error)
	// EventRecordExists reports whether any record, live or marked deleted,
	// has the ID: blobs without one are orphans.
	EventRecordExists(ctx context.Context, id string) (bool, error)
}
