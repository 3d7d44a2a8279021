package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/camvault/camvault/internal/store"
)

// AppendAudit appends to a home's chain inside one write transaction, so
// the previous entry cannot change between reading it and linking to it.
func (s *Store) AppendAudit(ctx context.Context, homeID string, build func(int64, []byte) store.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var seq int64
		var prev []byte
		err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit WHERE home_id = ? ORDER BY seq DESC LIMIT 1`, homeID).Scan(&seq, &prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read audit head: %w", err)
		}
		e := build(seq, prev)
		if e.HomeID != homeID || e.Seq != seq+1 {
			return fmt.Errorf("audit entry %s/%d does not follow %s/%d", e.HomeID, e.Seq, homeID, seq)
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO audit (home_id, seq, at, actor_kind, actor_id, action, device_id, event_id, result, prev_hash, hash)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.HomeID, e.Seq, ts(e.At), e.ActorKind, e.ActorID, e.Action, e.DeviceID, e.EventID, e.Result, e.PrevHash, e.Hash)
		if err != nil {
			return fmt.Errorf("insert audit entry: %w", mapErr(err))
		}
		return nil
	})
}

// ListAudit lists a home's entries newest first.
func (s *Store) ListAudit(ctx context.Context, homeID string, beforeSeq int64, limit int) ([]store.AuditEntry, error) {
	if beforeSeq <= 0 {
		beforeSeq = 1 << 62
	}
	rows, err := s.r.QueryContext(ctx,
		`SELECT home_id, seq, at, actor_kind, actor_id, action, device_id, event_id, result, prev_hash, hash
		 FROM audit WHERE home_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`, homeID, beforeSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		if err := rows.Scan(&e.HomeID, &e.Seq, &at, &e.ActorKind, &e.ActorID, &e.Action, &e.DeviceID, &e.EventID, &e.Result, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		e.At = fromTS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditHomes lists homes with audit entries.
func (s *Store) AuditHomes(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT home_id FROM audit ORDER BY home_id`)
	if err != nil {
		return nil, fmt.Errorf("list audit homes: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// RecordIncident inserts an incident.
func (s *Store) RecordIncident(ctx context.Context, in store.Incident) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO incidents (id, at, kind, requester_kind, requester_id, requested_home, requested_event, label_home, label_device, label_event, label_kind, detail)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		in.ID, ts(in.At), in.Kind, in.RequesterKind, in.RequesterID, in.RequestedHome, in.RequestedEvent, in.LabelHome, in.LabelDevice, in.LabelEvent, in.LabelKind, in.Detail)
	if err != nil {
		return fmt.Errorf("insert incident: %w", mapErr(err))
	}
	return nil
}

// ListIncidents lists incidents, newest first.
func (s *Store) ListIncidents(ctx context.Context, limit int) ([]store.Incident, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT id, at, kind, requester_kind, requester_id, requested_home, requested_event, label_home, label_device, label_event, label_kind, detail
		 FROM incidents ORDER BY at DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	var out []store.Incident
	for rows.Next() {
		var in store.Incident
		var at int64
		if err := rows.Scan(&in.ID, &at, &in.Kind, &in.RequesterKind, &in.RequesterID, &in.RequestedHome, &in.RequestedEvent, &in.LabelHome, &in.LabelDevice, &in.LabelEvent, &in.LabelKind, &in.Detail); err != nil {
			return nil, err
		}
		in.At = fromTS(at)
		out = append(out, in)
	}
	return out, rows.Err()
}
