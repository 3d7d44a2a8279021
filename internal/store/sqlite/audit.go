package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
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

// auditHead is the last entry of a home's chain.
type auditHead struct {
	seq  int64
	hash []byte
}

// maxHeads bounds the chain heads kept in memory; past it they are all
// forgotten and read again as needed.
const maxHeads = 1 << 16

// AppendAudit appends to a home's chain inside one write transaction, so
// the head cannot change between reading it and linking to it.
//
// This store is the only writer of its database, and every append runs
// on the one writer, so the head of each chain is kept in memory as last
// committed (heads), with what the transaction in progress appended on top
// (pending): an append links to it without reading the table. A part
// rolled back never reached pending; a transaction that did not commit
// takes pending with it (auditEnded).
func (s *Store) AppendAudit(ctx context.Context, homeID string, build func(int64, []byte) domain.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		q := s.write.in(tx)
		head, ok := s.pending[homeID]
		if !ok {
			head, ok = s.heads[homeID]
		}
		if !ok {
			err := q.QueryRowContext(ctx, auditHeadQuery, homeID).Scan(&head.seq, &head.hash)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return wrap("read audit head", err)
			}
		}
		e := build(head.seq, head.hash)
		if e.HomeID != homeID || e.Seq != head.seq+1 {
			return fmt.Errorf("audit entry %s/%d does not follow %s/%d", e.HomeID, e.Seq, homeID, head.seq)
		}
		if _, err := q.ExecContext(ctx, auditInsertQuery, e.HomeID, e.Seq, ts(e.At), e.ActorKind, e.ActorID, e.Action, e.DeviceID, e.EventID, e.Result, e.PrevHash, e.Hash); err != nil {
			// Whatever failed, the next append of this home reads its head
			// from the table: a head kept here that another writer moved
			// (none should) costs one refused append, not every later one.
			delete(s.heads, homeID)
			delete(s.pending, homeID)
			return wrap("insert audit entry", err)
		}
		s.pending[homeID] = auditHead{seq: e.Seq, hash: e.Hash}
		return nil
	})
}

// auditEnded is told by the committer how a transaction ended: what it
// appended becomes the heads if it committed, and is forgotten if not.
// A commit that failed may still be on disk, so every head is forgotten
// then, to be read again.
func (s *Store) auditEnded(committed bool) {
	if len(s.pending) == 0 && committed {
		return
	}
	if !committed {
		clear(s.heads)
	} else {
		if len(s.heads)+len(s.pending) > maxHeads {
			clear(s.heads)
		}
		maps.Copy(s.heads, s.pending)
	}
	clear(s.pending)
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
