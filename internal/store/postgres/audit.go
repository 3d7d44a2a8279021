package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/camvault/camvault/internal/domain"
	"github.com/jackc/pgx/v5"
)

// auditLockClass is the first key of the two-key advisory locks that
// serialize appends to one home's chain; the second is a hash of the home.
// Its class differs from migrateLockClass, so the two never meet.
const auditLockClass = 0x63766175 // "cvau"

// AppendAudit appends to a home's chain inside one transaction. The
// transaction first takes an advisory lock on the home, so writers on every
// node queue for it and each reads the head its predecessor committed
// (read committed: every statement sees the latest commit). The primary
// key (home, seq) refuses a second entry with one sequence number even if
// two homes' locks share a hash.
func (s *Store) AppendAudit(ctx context.Context, homeID string, build func(int64, []byte) domain.AuditEntry) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, auditLockClass, homeID); err != nil {
			return wrap("lock audit chain", err)
		}
		var seq int64
		var prev []byte
		err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit WHERE home_id = $1 ORDER BY seq DESC LIMIT 1`, homeID).Scan(&seq, &prev)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return wrap("read audit head", err)
		}
		e := build(seq, prev)
		if e.HomeID != homeID || e.Seq != seq+1 {
			return fmt.Errorf("audit entry %s/%d does not follow %s/%d", e.HomeID, e.Seq, homeID, seq)
		}
		_, err = tx.Exec(ctx,
			`INSERT INTO audit (home_id, seq, at, actor_kind, actor_id, action, device_id, event_id, result, prev_hash, hash)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			e.HomeID, e.Seq, ts(e.At), e.ActorKind, e.ActorID, e.Action, e.DeviceID, e.EventID, e.Result, e.PrevHash, e.Hash)
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
	return list(ctx, s.pool, "list audit", scanAudit,
		`SELECT home_id, seq, at, actor_kind, actor_id, action, device_id, event_id, result, prev_hash, hash
		 FROM audit WHERE home_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`, homeID, beforeSeq, limit)
}

// AuditHomes lists homes with audit entries.
func (s *Store) AuditHomes(ctx context.Context) ([]string, error) {
	return list(ctx, s.pool, "list audit homes", func(sc scanner) (string, error) {
		var h string
		return h, sc.Scan(&h)
	}, `SELECT DISTINCT home_id FROM audit ORDER BY home_id`)
}

// RecordIncident inserts an incident.
func (s *Store) RecordIncident(ctx context.Context, in domain.Incident) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO incidents (id, at, kind, requester_kind, requester_id, requested_home, requested_event, label_home, label_device, label_event, label_kind, detail)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		in.ID, ts(in.At), in.Kind, in.RequesterKind, in.RequesterID, in.RequestedHome, in.RequestedEvent, in.LabelHome, in.LabelDevice, in.LabelEvent, in.LabelKind, in.Detail)
	return wrap("insert incident", err)
}

// ListIncidents lists incidents, newest first.
func (s *Store) ListIncidents(ctx context.Context, limit int) ([]domain.Incident, error) {
	if limit <= 0 {
		return nil, nil
	}
	return list(ctx, s.pool, "list incidents", func(sc scanner) (domain.Incident, error) {
		var in domain.Incident
		var at int64
		if err := sc.Scan(&in.ID, &at, &in.Kind, &in.RequesterKind, &in.RequesterID, &in.RequestedHome, &in.RequestedEvent,
			&in.LabelHome, &in.LabelDevice, &in.LabelEvent, &in.LabelKind, &in.Detail); err != nil {
			return domain.Incident{}, err
		}
		in.At = fromTS(at)
		return in, nil
	}, `SELECT id, at, kind, requester_kind, requester_id, requested_home, requested_event, label_home, label_device, label_event, label_kind, detail
	    FROM incidents ORDER BY at DESC, id DESC LIMIT $1`, limit)
}
