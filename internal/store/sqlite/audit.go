package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/camvault/camvault/internal/domain"
)

const (
	auditHeadQuery   = `SELECT seq, hash FROM audit WHERE home_id = ? ORDER BY seq DESC LIMIT 1`
	auditInsertQuery = `INSERT INTO audit (home_id, seq, at, actor_kind, actor_id, action, device_id, event_id, result, prev_hash, hash)
	 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// hotWrites are the write statements prepared at Open: those of every
// thumbnail view (its audit entry) and every upload (its event).
func hotWrites() []string {
	return []string{auditHeadQuery, auditInsertQuery, eventInsertQuery, eventByDeviceEventQuery}
}

// AppendAudit appends to a home's chain inside one write transaction, so
// the head cannot change between reading it and linking to it.
func (s *Store) AppendAudit(ctx context.Context, homeID string, build func(int64, []byte) domain.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		q := s.write.in(tx)
		var seq int64
		var prev []byte
		err := q.QueryRowContext(ctx, auditHeadQuery, homeID).Scan(&seq, &prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return wrap("read audit head", err)
		}
		e := build(seq, prev)
		if e.HomeID != homeID || e.Seq != seq+1 {
			return fmt.Errorf("audit entry %s/%d does not follow %s/%d", e.HomeID, e.Seq, homeID, seq)
		}
		_, err = q.ExecContext(ctx, auditInsertQuery, e.HomeID, e.Seq, ts(e.At), e.ActorKind, e.ActorID, e.Action, e.DeviceID, e.EventID, e.Result, e.PrevHash, e.Hash)
		return wrap("insert audit entry", err)
	})
}

func scanAudit(row scanner) (domain.AuditEntry, error) {
	var e domain.AuditEntry
	var at int64
	if err := row.Scan(&e.HomeID, &e.Seq, &at, &e.ActorKind, &e.ActorID, &e.Action, &e.DeviceID, &e.EventID, &e.Result, &e.PrevHash, &e.Hash); err != nil {
		return domain.AuditEntry{}, err
	}
	e.At = fromTS(at)
	return e, nil
}

// ListAudit lists a home's entries below beforeSeq (0: from the newest),
// newest first.
func (s *Store) ListAudit(ctx context.Context, homeID string, beforeSeq int64, limit int) ([]domain.AuditEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	if beforeSeq <= 0 {
		beforeSeq = math.MaxInt64
	}
	return list(ctx, s.read, "list audit", scanAudit,
		`SELECT home_id, seq, at, actor_kind, actor_id, action, device_id, event_id, result, prev_hash, hash
		 FROM audit WHERE home_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`, homeID, beforeSeq, limit)
}

// AuditHomes lists homes with audit entries.
func (s *Store) AuditHomes(ctx context.Context) ([]string, error) {
	return list(ctx, s.read, "list audit homes", func(sc scanner) (string, error) {
		var h string
		return h, sc.Scan(&h)
	}, `SELECT DISTINCT home_id FROM audit ORDER BY home_id`)
}

// RecordIncident inserts an incident.
func (s *Store) RecordIncident(ctx context.Context, in domain.Incident) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO incidents (id, at, kind, requester_kind, requester_id, requested_home, requested_event, label_home, label_device, label_event, label_kind, detail)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		in.ID, ts(in.At), in.Kind, in.RequesterKind, in.RequesterID, in.RequestedHome, in.RequestedEvent, in.LabelHome, in.LabelDevice, in.LabelEvent, in.LabelKind, in.Detail)
	return wrap("insert incident", err)
}

// ListIncidents lists incidents, newest first.
func (s *Store) ListIncidents(ctx context.Context, limit int) ([]domain.Incident, error) {
	if limit <= 0 {
		return nil, nil
	}
	return list(ctx, s.read, "list incidents", func(sc scanner) (domain.Incident, error) {
		var in domain.Incident
		var at int64
		if err := sc.Scan(&in.ID, &at, &in.Kind, &in.RequesterKind, &in.RequesterID, &in.RequestedHome, &in.RequestedEvent,
			&in.LabelHome, &in.LabelDevice, &in.LabelEvent, &in.LabelKind, &in.Detail); err != nil {
			return domain.Incident{}, err
		}
		in.At = fromTS(at)
		return in, nil
	}, `SELECT id, at, kind, requester_kind, requester_id, requested_home, requested_event, label_home, label_device, label_event, label_kind, detail
	    FROM incidents ORDER BY at DESC, id DESC LIMIT ?`, limit)
}
