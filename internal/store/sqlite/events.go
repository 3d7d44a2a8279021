package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/store"
)

const eventCols = `id, home_id, device_id, device_event_id, kind, started_at, created_at, thumb_key, thumb_size, clip_key, clip_size`

func scanEvent(row interface{ Scan(...any) error }) (store.Event, error) {
	var e store.Event
	var started, created int64
	if err := row.Scan(&e.ID, &e.HomeID, &e.DeviceID, &e.DeviceEventID, &e.Kind, &started, &created,
		&e.ThumbKey, &e.ThumbSize, &e.ClipKey, &e.ClipSize); err != nil {
		return store.Event{}, mapErr(err)
	}
	e.StartedAt, e.CreatedAt = fromTS(started), fromTS(created)
	return e, nil
}

// CreateEvent inserts an event unless the device already sent one with the
// same ID, which is then returned instead. The unique (device,
// device_event_id) constraint decides between concurrent retries.
func (s *Store) CreateEvent(ctx context.Context, e store.Event) (store.Event, bool, error) {
	_, err := s.w.ExecContext(ctx, `INSERT INTO events (`+eventCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.HomeID, e.DeviceID, e.DeviceEventID, e.Kind, ts(e.StartedAt), ts(e.CreatedAt), e.ThumbKey, e.ThumbSize, e.ClipKey, e.ClipSize)
	if err == nil {
		return e, true, nil
	}
	if err := mapErr(err); !errors.Is(err, store.ErrConflict) {
		return store.Event{}, false, fmt.Errorf("insert event: %w", err)
	}
	existing, err := scanEvent(s.w.QueryRowContext(ctx, `SELECT `+eventCols+` FROM events WHERE device_id = ? AND device_event_id = ?`, e.DeviceID, e.DeviceEventID))
	if err != nil {
		return store.Event{}, false, fmt.Errorf("read existing event: %w", err)
	}
	return existing, false, nil
}

// EventByID reads a live event.
func (s *Store) EventByID(ctx context.Context, id string) (store.Event, error) {
	return scanEvent(s.r.QueryRowContext(ctx, `SELECT `+eventCols+` FROM events WHERE id = ? AND deleted_at IS NULL`, id))
}

// EventByDeviceEventID reads a device's event by the device's ID for it.
func (s *Store) EventByDeviceEventID(ctx context.Context, deviceID, deviceEventID string) (store.Event, error) {
	return scanEvent(s.r.QueryRowContext(ctx, `SELECT `+eventCols+` FROM events WHERE device_id = ? AND device_event_id = ?`, deviceID, deviceEventID))
}

// ListEvents lists live events in the query's scopes, newest first.
func (s *Store) ListEvents(ctx context.Context, q store.EventQuery) ([]store.Event, error) {
	if len(q.Scopes) == 0 || q.Limit <= 0 {
		return nil, nil
	}
	var where []string
	var args []any
	var scopes []string
	for _, sc := range q.Scopes {
		if sc.Devices == nil {
			scopes = append(scopes, "home_id = ?")
			args = append(args, sc.HomeID)
			continue
		}
		if len(sc.Devices) == 0 {
			continue
		}
		scopes = append(scopes, "(home_id = ? AND device_id IN ("+placeholders(len(sc.Devices))+"))")
		args = append(args, sc.HomeID)
		for _, d := range sc.Devices {
			args = append(args, d)
		}
	}
	if len(scopes) == 0 {
		return nil, nil
	}
	where = append(where, "("+strings.Join(scopes, " OR ")+")", "deleted_at IS NULL")
	if len(q.Kinds) > 0 {
		where = append(where, "kind IN ("+placeholders(len(q.Kinds))+")")
		for _, k := range q.Kinds {
			args = append(args, k)
		}
	}
	if !q.BeforeTime.IsZero() {
		if q.BeforeID != "" {
			where = append(where, "(started_at < ? OR (started_at = ? AND id < ?))")
			args = append(args, ts(q.BeforeTime), ts(q.BeforeTime), q.BeforeID)
		} else {
			where = append(where, "started_at < ?")
			args = append(args, ts(q.BeforeTime))
		}
	}
	args = append(args, q.Limit)
	rows, err := s.r.QueryContext(ctx, `SELECT `+eventCols+` FROM events WHERE `+strings.Join(where, " AND ")+
		` ORDER BY started_at DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// MarkEventDeleted hides a live event and queues its blobs for removal.
func (s *Store) MarkEventDeleted(ctx context.Context, id string, at time.Time) (store.Event, error) {
	e, err := scanEvent(s.w.QueryRowContext(ctx,
		`UPDATE events SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL RETURNING `+eventCols, ts(at), id))
	if err != nil {
		return store.Event{}, err
	}
	return e, nil
}

// MarkExpiredEvents marks deleted the events past their home's retention.
func (s *Store) MarkExpiredEvents(ctx context.Context, now time.Time, limit int) (int, error) {
	res, err := s.w.ExecContext(ctx,
		`UPDATE events SET deleted_at = ? WHERE id IN (
		   SELECT e.id FROM events e JOIN homes h ON h.id = e.home_id
		   WHERE e.deleted_at IS NULL AND e.started_at < ? - h.retention_days * 86400000000
		   LIMIT ?)`, ts(now), ts(now), limit)
	if err != nil {
		return 0, fmt.Errorf("mark expired events: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// DeletedEvents lists garbage rows.
func (s *Store) DeletedEvents(ctx context.Context, limit int) ([]store.Event, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+eventCols+` FROM events WHERE deleted_at IS NOT NULL ORDER BY deleted_at LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list deleted events: %w", err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// PurgeEvent drops a garbage row.
func (s *Store) PurgeEvent(ctx context.Context, id string) error {
	return affected(s.w.ExecContext(ctx, `DELETE FROM events WHERE id = ? AND deleted_at IS NOT NULL`, id))
}

// EventRecordExists reports whether a live or garbage row has the ID.
func (s *Store) EventRecordExists(ctx context.Context, id string) (bool, error) {
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM events WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("event exists: %w", err)
	}
	return true, nil
}
