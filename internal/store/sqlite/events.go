package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

const (
	eventCols               = `id, home_id, device_id, device_event_id, kind, started_at, created_at, thumb_key, thumb_size, clip_key, clip_size, clip_codec, clip_duration_ms, clip_width, clip_height`
	eventInsertQuery        = `INSERT INTO events (` + eventCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	eventByDeviceEventQuery = `SELECT ` + eventCols + ` FROM events WHERE device_id = ? AND device_event_id = ?`
)

func scanEvent(row scanner) (domain.Event, error) {
	var e domain.Event
	var started, created int64
	if err := row.Scan(&e.ID, &e.HomeID, &e.DeviceID, &e.DeviceEventID, &e.Kind, &started, &created,
		&e.ThumbKey, &e.ThumbSize, &e.ClipKey, &e.ClipSize, &e.ClipCodec, &e.ClipDurationMS, &e.ClipWidth, &e.ClipHeight); err != nil {
		return domain.Event{}, err
	}
	e.StartedAt, e.CreatedAt = fromTS(started), fromTS(created)
	return e, nil
}

// CreateEvent inserts an event unless the device already sent one with the
// same ID, which is then returned instead. The unique (device,
// device_event_id) constraint decides between concurrent retries; the
// writer is one connection, so the winner's row is visible to the loser.
func (s *Store) CreateEvent(ctx context.Context, e domain.Event) (domain.Event, bool, error) {
	var out domain.Event
	var created bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		q := s.write.in(tx)
		_, err := q.ExecContext(ctx, eventInsertQuery,
			e.ID, e.HomeID, e.DeviceID, e.DeviceEventID, e.Kind, ts(e.StartedAt), ts(e.CreatedAt), e.ThumbKey, e.ThumbSize, e.ClipKey, e.ClipSize,
			e.ClipCodec, e.ClipDurationMS, e.ClipWidth, e.ClipHeight)
		if err == nil {
			out, created = e, true
			// Its webhooks' deliveries, in the event's own transaction:
			// an acknowledged event is told at least once.
			if _, err := q.ExecContext(ctx, enqueueWebhooksQuery, e.ID, domain.WebhookEventCreated, e.ID, ts(e.CreatedAt), ts(e.CreatedAt),
				e.HomeID, domain.WebhookEventCreated); err != nil {
				return wrap("enqueue webhook deliveries", err)
			}
			// And its push notifications, decided when they are sent.
			if _, err := q.ExecContext(ctx, enqueuePushQuery, e.ID, e.HomeID, ts(e.CreatedAt)); err != nil {
				return wrap("enqueue push deliveries", err)
			}
			return nil
		}
		insertErr := wrap("insert event", err)
		if !errors.Is(insertErr, store.ErrConflict) {
			return insertErr
		}
		existing, err := scanEvent(q.QueryRowContext(ctx, eventByDeviceEventQuery, e.DeviceID, e.DeviceEventID))
		if errors.Is(err, sql.ErrNoRows) {
			// The conflict was on the event ID, not a retry: a real conflict.
			return insertErr
		}
		if err != nil {
			return wrap("read existing event", err)
		}
		out, created = existing, false
		return nil
	})
	if err != nil {
		return domain.Event{}, false, err
	}
	return out, created, nil
}

// EventByID reads a live event.
func (s *Store) EventByID(ctx context.Context, id string) (domain.Event, error) {
	e, err := scanEvent(s.read.QueryRowContext(ctx, `SELECT `+eventCols+` FROM events WHERE id = ? AND deleted_at IS NULL`, id))
	return e, wrap("event by id", err)
}

// EventByDeviceEventID reads a device's event, live or marked deleted, by
// the device's ID for it: a retry of a deleted event must not store it again.
func (s *Store) EventByDeviceEventID(ctx context.Context, deviceID, deviceEventID string) (domain.Event, error) {
	e, err := scanEvent(s.read.QueryRowContext(ctx, eventByDeviceEventQuery, deviceID, deviceEventID))
	return e, wrap("event by device event id", err)
}

// UploadTarget reads the home's wrapped data key and the device's event
// with deviceEventID, if any, in one read: on a reader connection each
// statement is a read transaction, and after any commit its first page
// reads go to the file again.
func (s *Store) UploadTarget(ctx context.Context, homeID, deviceID, deviceEventID string) ([]byte, string, error) {
	var key []byte
	var existing sql.NullString
	err := s.read.QueryRowContext(ctx, uploadTargetQuery, deviceID, deviceEventID, homeID).Scan(&key, &existing)
	if err != nil {
		return nil, "", wrap("upload target", err)
	}
	return key, existing.String, nil
}

const uploadTargetQuery = `SELECT h.wrapped_data_key,
	(SELECT e.id FROM events e WHERE e.device_id = ? AND e.device_event_id = ?)
	FROM homes h WHERE h.id = ?`

// ListEvents lists live events in the query's scopes, newest first. A scope
// with an empty camera list reads nothing; it never widens to the home.
func (s *Store) ListEvents(ctx context.Context, q store.EventQuery) ([]domain.Event, error) {
	return store.ListSplit(ctx, q, s.listEvents)
}

// listEvents runs q as one statement.
func (s *Store) listEvents(ctx context.Context, q store.EventQuery) ([]domain.Event, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	var scopes []string
	var args []any
	for _, sc := range q.Scopes {
		switch {
		case sc.Devices == nil:
			scopes = append(scopes, "home_id = ?")
			args = append(args, sc.HomeID)
		case len(sc.Devices) > 0:
			scopes = append(scopes, "(home_id = ? AND device_id IN ("+placeholders(len(sc.Devices))+"))")
			args = append(args, sc.HomeID)
			for _, d := range sc.Devices {
				args = append(args, d)
			}
		}
	}
	if len(scopes) == 0 {
		return nil, nil
	}
	where := []string{"(" + strings.Join(scopes, " OR ") + ")", "deleted_at IS NULL"}
	if len(q.Kinds) > 0 {
		where = append(where, "kind IN ("+placeholders(len(q.Kinds))+")")
		for _, k := range q.Kinds {
			args = append(args, k)
		}
	}
	if !q.BeforeTime.IsZero() {
		if q.BeforeID != "" {
			where = append(where, "(started_at, id) < (?, ?)")
			args = append(args, ts(q.BeforeTime), q.BeforeID)
		} else {
			where = append(where, "started_at < ?")
			args = append(args, ts(q.BeforeTime))
		}
	}
	order := "started_at DESC, id DESC"
	if q.Ascending() {
		if q.AfterID != "" {
			where = append(where, "(started_at, id) > (?, ?)")
			args = append(args, ts(q.AfterTime), q.AfterID)
		} else {
			where = append(where, "started_at > ?")
			args = append(args, ts(q.AfterTime))
		}
		order = "started_at, id"
	}
	args = append(args, q.Limit)
	return list(ctx, s.read, "list events", scanEvent,
		`SELECT `+eventCols+` FROM events WHERE `+strings.Join(where, " AND ")+` ORDER BY `+order+` LIMIT ?`, args...)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// MarkEventDeleted hides a live event, queues its blobs for removal and
// logs the change for its home.
func (s *Store) MarkEventDeleted(ctx context.Context, id string, at time.Time) (domain.Event, error) {
	var e domain.Event
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = scanEvent(tx.QueryRowContext(ctx,
			`UPDATE events SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL RETURNING `+eventCols, ts(at), id))
		if err != nil {
			return wrap("mark event deleted", err)
		}
		return recordChange(ctx, tx, e.HomeID, "")
	})
	return e, err
}

// MarkExpiredEvents marks deleted, in one statement, the live events
// the server received before their home's retention at now (whatever
// time the camera gave them).
func (s *Store) MarkExpiredEvents(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	const day = int64(24 * time.Hour / time.Microsecond)
	var n int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		homes, err := list(ctx, tx, "mark expired events", func(sc scanner) (string, error) {
			var h string
			return h, sc.Scan(&h)
		}, `UPDATE events SET deleted_at = ? WHERE id IN (
		   SELECT e.id FROM events e JOIN homes h ON h.id = e.home_id
		   WHERE e.deleted_at IS NULL AND e.created_at < ? - h.retention_days * ?
		   LIMIT ?) RETURNING home_id`, ts(now), ts(now), day, limit)
		if err != nil {
			return err
		}
		n = len(homes)
		slices.Sort(homes)
		for _, h := range slices.Compact(homes) {
			if err := recordChange(ctx, tx, h, ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// DeletedEvents lists events marked deleted, oldest mark first.
func (s *Store) DeletedEvents(ctx context.Context, limit int) ([]domain.Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	return list(ctx, s.read, "list deleted events", scanEvent,
		`SELECT `+eventCols+` FROM events WHERE deleted_at IS NOT NULL AND purged_at IS NULL ORDER BY deleted_at, id LIMIT ?`, limit)
}

// PurgeEvent turns the row of an event marked deleted, whose blobs are
// gone, into a tombstone; a live or already purged event is ErrNotFound.
func (s *Store) PurgeEvent(ctx context.Context, id string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE events SET purged_at = ? WHERE id = ? AND deleted_at IS NOT NULL AND purged_at IS NULL`, ts(at), id)
	return affected("purge event", res, err)
}

// DropTombstones removes tombstones purged before t.
func (s *Store) DropTombstones(ctx context.Context, before time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM events WHERE purged_at IS NOT NULL AND purged_at < ?`, ts(before))
	if err != nil {
		return 0, wrap("drop tombstones", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap("drop tombstones", err)
}

// EventRecordExists reports whether a live or marked row has the ID.
func (s *Store) EventRecordExists(ctx context.Context, id string) (bool, error) {
	var one int
	err := s.read.QueryRowContext(ctx, `SELECT 1 FROM events WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, wrap("event record exists", err)
	}
	return true, nil
}
