package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

const eventCols = `id, home_id, device_id, device_event_id, kind, started_at, created_at, thumb_key, thumb_size, clip_key, clip_size, clip_codec, clip_duration_ms, clip_width, clip_height`

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
// device_event_id) constraint decides between retries arriving at several
// nodes at once: ON CONFLICT waits for a concurrent insert of the same key
// to commit, so the loser's next statement sees the winner's row.
func (s *Store) CreateEvent(ctx context.Context, e domain.Event) (domain.Event, bool, error) {
	for range maxAttempts {
		// One statement: the event, its webhooks' deliveries and its push
		// notifications commit together, so an acknowledged event is told
		// at least once.
		var inserted int
		err := s.pool.QueryRow(ctx, `WITH ins AS (
				INSERT INTO events (`+eventCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
				ON CONFLICT (device_id, device_event_id) DO NOTHING RETURNING id, home_id),
			hooks AS (
				INSERT INTO webhook_deliveries (id, webhook_id, home_id, type, subject, at, next_at)
				SELECT 'msg_' || w.id || ins.id, w.id, w.home_id, 'event.created', ins.id, $7, $7
				FROM ins JOIN webhooks w ON w.home_id = ins.home_id AND w.disabled_at = 0 AND w.on_event_created),
			pushes AS (
				INSERT INTO push_deliveries (subscription_id, event_id, home_id, at, next_at)
				SELECT ps.id, ins.id, ins.home_id, $7, $7
				FROM ins JOIN members m ON m.home_id = ins.home_id JOIN push_subscriptions ps ON ps.account_id = m.account_id
				ON CONFLICT DO NOTHING)
			SELECT count(*) FROM ins`,
			e.ID, e.HomeID, e.DeviceID, e.DeviceEventID, e.Kind, ts(e.StartedAt), ts(e.CreatedAt), e.ThumbKey, e.ThumbSize, e.ClipKey, e.ClipSize,
			e.ClipCodec, e.ClipDurationMS, e.ClipWidth, e.ClipHeight).Scan(&inserted)
		if err != nil {
			// A conflict on the event ID itself is a real conflict.
			return domain.Event{}, false, wrap("insert event", err)
		}
		if inserted == 1 {
			return e, true, nil
		}
		existing, err := scanEvent(s.pool.QueryRow(ctx,
			`SELECT `+eventCols+` FROM events WHERE device_id = $1 AND device_event_id = $2`, e.DeviceID, e.DeviceEventID))
		if errors.Is(err, pgx.ErrNoRows) {
			// The row that conflicted was a tombstone dropped in between:
			// the insert may now go through.
			continue
		}
		if err != nil {
			return domain.Event{}, false, wrap("read existing event", err)
		}
		return existing, false, nil
	}
	return domain.Event{}, false, fmt.Errorf("insert event: the device's event kept changing: %w", store.ErrConflict)
}

// EventByID reads a live event.
func (s *Store) EventByID(ctx context.Context, id string) (domain.Event, error) {
	e, err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventCols+` FROM events WHERE id = $1 AND deleted_at IS NULL`, id))
	return e, wrap("event by id", err)
}

// EventByDeviceEventID reads a device's event, live or marked deleted, by
// the device's ID for it: a retry of a deleted event must not store it again.
func (s *Store) EventByDeviceEventID(ctx context.Context, deviceID, deviceEventID string) (domain.Event, error) {
	e, err := scanEvent(s.pool.QueryRow(ctx,
		`SELECT `+eventCols+` FROM events WHERE device_id = $1 AND device_event_id = $2`, deviceID, deviceEventID))
	return e, wrap("event by device event id", err)
}

// UploadTarget reads the home's wrapped data key and the device's event
// with deviceEventID, if any, in one round trip.
func (s *Store) UploadTarget(ctx context.Context, homeID, deviceID, deviceEventID string) ([]byte, string, error) {
	var key []byte
	var existing *string
	err := s.pool.QueryRow(ctx, `SELECT h.wrapped_data_key,
		(SELECT e.id FROM events e WHERE e.device_id = $1 AND e.device_event_id = $2)
		FROM homes h WHERE h.id = $3`, deviceID, deviceEventID, homeID).Scan(&key, &existing)
	if err != nil {
		return nil, "", wrap("upload target", err)
	}
	if existing == nil {
		return key, "", nil
	}
	return key, *existing, nil
}

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
	var p params
	var scopes []string
	for _, sc := range q.Scopes {
		switch {
		case sc.Devices == nil:
			scopes = append(scopes, "home_id = "+p.add(sc.HomeID))
		case len(sc.Devices) > 0:
			scopes = append(scopes, "(home_id = "+p.add(sc.HomeID)+" AND device_id = ANY("+p.add(sc.Devices)+"::text[]))")
		}
	}
	if len(scopes) == 0 {
		return nil, nil
	}
	where := []string{"(" + strings.Join(scopes, " OR ") + ")", "deleted_at IS NULL"}
	if len(q.Kinds) > 0 {
		where = append(where, "kind = ANY("+p.add(q.Kinds)+"::text[])")
	}
	if !q.BeforeTime.IsZero() {
		before := p.add(ts(q.BeforeTime))
		if q.BeforeID != "" {
			where = append(where, "(started_at, id) < ("+before+"::bigint, "+p.add(q.BeforeID)+"::text)")
		} else {
			where = append(where, "started_at < "+before)
		}
	}
	order := "started_at DESC, id DESC"
	if q.Ascending() {
		after := p.add(ts(q.AfterTime))
		if q.AfterID != "" {
			where = append(where, "(started_at, id) > ("+after+"::bigint, "+p.add(q.AfterID)+"::text)")
		} else {
			where = append(where, "started_at > "+after)
		}
		order = "started_at, id"
	}
	limit := p.add(q.Limit)
	return list(ctx, s.pool, "list events", scanEvent,
		`SELECT `+eventCols+` FROM events WHERE `+strings.Join(where, " AND ")+` ORDER BY `+order+` LIMIT `+limit, p...)
}

// MarkEventDeleted hides a live event, queues its blobs for removal and
// logs the change for its home.
func (s *Store) MarkEventDeleted(ctx context.Context, id string, at time.Time) (domain.Event, error) {
	var e domain.Event
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		e, err = scanEvent(tx.QueryRow(ctx,
			`UPDATE events SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL RETURNING `+eventCols, ts(at), id))
		if err != nil {
			return wrap("mark event deleted", err)
		}
		return recordChange(ctx, tx, e.HomeID, "")
	})
	return e, err
}

// MarkExpiredEvents marks deleted, in one statement, the live events
// the server received before their home's retention at now (whatever
// time the camera gave them). The candidates are chosen
// once, in a materialized CTE: a LIMIT inside IN (...) may be evaluated
// again by the planner and mark more than limit. Rows another node's sweep
// is marking are skipped rather than waited for.
func (s *Store) MarkExpiredEvents(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	const day = int64(24 * time.Hour / time.Microsecond)
	var n int
	err := s.tx(ctx, func(tx pgx.Tx) error {
		homes, err := list(ctx, tx, "mark expired events", func(sc scanner) (string, error) {
			var h string
			return h, sc.Scan(&h)
		}, `WITH expired AS MATERIALIZED (
		   SELECT e.id FROM events e JOIN homes h ON h.id = e.home_id
		   WHERE e.deleted_at IS NULL AND e.created_at < $1 - h.retention_days * $2::bigint
		   LIMIT $3 FOR UPDATE OF e SKIP LOCKED)
		 UPDATE events SET deleted_at = $1 FROM expired WHERE events.id = expired.id AND events.deleted_at IS NULL
		 RETURNING events.home_id`,
			ts(now), day, limit)
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
	return list(ctx, s.pool, "list deleted events", scanEvent,
		`SELECT `+eventCols+` FROM events WHERE deleted_at IS NOT NULL AND purged_at IS NULL ORDER BY deleted_at, id LIMIT $1`, limit)
}

// PurgeEvent turns the row of an event marked deleted, whose blobs are
// gone, into a tombstone; a live or already purged event is ErrNotFound.
func (s *Store) PurgeEvent(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE events SET purged_at = $1 WHERE id = $2 AND deleted_at IS NOT NULL AND purged_at IS NULL`, ts(at), id)
	return affected("purge event", tag, err)
}

// DropTombstones removes tombstones purged before t.
func (s *Store) DropTombstones(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM events WHERE purged_at IS NOT NULL AND purged_at < $1`, ts(before))
	if err != nil {
		return 0, wrap("drop tombstones", err)
	}
	return int(tag.RowsAffected()), nil
}

// EventRecordExists reports whether a live or marked row has the ID.
func (s *Store) EventRecordExists(ctx context.Context, id string) (bool, error) {
	var exists bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE id = $1)`, id).Scan(&exists)
	if err != nil {
		return false, wrap("event record exists", err)
	}
	return exists, nil
}
