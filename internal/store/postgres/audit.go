package postgres

import (
	"context"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// auditLockClass is the first key of the two-key advisory locks that
// serialize appends to one home's chain; the second is a hash of the home.
// Its class differs from migrateLockClass, so the two never meet.
const auditLockClass = 0x63766175 // "cvau"

// AppendAudit appends to a home's chain, and moves its head when build
// says so, inside one transaction. The transaction first takes an
// advisory lock on the home, so writers on every node queue for it and
// each reads the tip its predecessor committed (read committed: every
// statement sees the latest commit). The primary key (home, seq) refuses a
// second entry with one sequence number even if two homes' locks share a
// hash.
func (s *Store) AppendAudit(ctx context.Context, homeID string, build func(domain.AuditTip) (domain.AuditEntry, *domain.AuditHead)) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, auditLockClass, homeID); err != nil {
			return wrap("lock audit chain", err)
		}
		tip, err := scanTip(tx.QueryRow(ctx,
			`SELECT $1::text, e.seq, e.hash, e.key_gen, h.seq, h.hash, h.key_gen, h.mac,
			   CASE WHEN h.seq = e.seq THEN e.hash ELSE (SELECT hash FROM audit WHERE home_id = $1 AND seq = h.seq) END
			 FROM (SELECT 1) AS one
			 LEFT JOIN (SELECT seq, hash, key_gen FROM audit WHERE home_id = $1 ORDER BY seq DESC LIMIT 1) AS e ON true
			 LEFT JOIN audit_heads AS h ON h.home_id = $1`, homeID))
		if err != nil {
			return wrap("read audit tip", err)
		}
		if tip.Head == nil && tip.Last != nil && tip.Last.KeyGen == 0 {
			// A chain from before heads: its last entry, whole.
			last, err := scanAudit(tx.QueryRow(ctx, `SELECT `+auditCols+` FROM audit WHERE home_id = $1 AND seq = $2`, homeID, tip.Last.Seq))
			if err != nil {
				return wrap("read last audit entry", err)
			}
			tip.Last = &last
		}
		e, head := build(tip)
		if e.HomeID != homeID || e.Seq != tip.Seq()+1 {
			return fmt.Errorf("audit entry %s/%d does not follow %s/%d", e.HomeID, e.Seq, homeID, tip.Seq())
		}
		if _, err := tx.Exec(ctx,
			`INSERT INTO audit (home_id, seq, at, actor_kind, actor_id, action, device_id, event_id, result, detail, client, subject_id, prev_hash, hash, key_gen)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			e.HomeID, e.Seq, ts(e.At), e.ActorKind, e.ActorID, e.Action, e.DeviceID, e.EventID, e.Result, e.Detail, e.Client, e.SubjectID, e.PrevHash, e.Hash, int64(e.KeyGen)); err != nil {
			return wrap("insert audit entry", err)
		}
		if head == nil {
			return nil
		}
		if head.HomeID != homeID {
			return fmt.Errorf("audit head of %s given for %s", head.HomeID, homeID)
		}
		_, err = tx.Exec(ctx,
			`INSERT INTO audit_heads (home_id, seq, hash, key_gen, mac) VALUES ($1, $2, $3, $4, $5)
			 ON CONFLICT (home_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, key_gen = excluded.key_gen, mac = excluded.mac`,
			head.HomeID, head.Seq, head.Hash, int64(head.KeyGen), head.MAC)
		return wrap("write audit head", err)
	})
}

const auditCols = `home_id, seq, at, actor_kind, actor_id, action, device_id, event_id, result, detail, client, subject_id, prev_hash, hash, key_gen`

// scanTip scans a tip: the home, the last entry's sequence number, hash
// and generation, the head's sequence number, hash, generation and MAC,
// and the hash of the entry at the head, any of them NULL.
func scanTip(row scanner) (domain.AuditTip, error) {
	var tip domain.AuditTip
	var home string
	var lastSeq, lastGen, headSeq, headGen *int64
	var lastHash, headHash, headMAC []byte
	if err := row.Scan(&home, &lastSeq, &lastHash, &lastGen, &headSeq, &headHash, &headGen, &headMAC, &tip.HeadEntryHash); err != nil {
		return domain.AuditTip{}, err
	}
	if lastSeq != nil && lastGen != nil {
		tip.Last = &domain.AuditEntry{HomeID: home, Seq: *lastSeq, Hash: lastHash, KeyGen: uint32(*lastGen)}
	}
	if headSeq != nil && headGen != nil {
		tip.Head = &domain.AuditHead{HomeID: home, Seq: *headSeq, Hash: headHash, KeyGen: uint32(*headGen), MAC: headMAC}
	}
	return tip, nil
}

// nullHead scans the columns of an audit head that a LEFT JOIN may leave
// NULL.
type nullHead struct {
	home      *string
	seq, gen  *int64
	hash, mac []byte
}

func (h nullHead) get() *domain.AuditHead {
	if h.home == nil || h.seq == nil || h.gen == nil {
		return nil
	}
	return &domain.AuditHead{HomeID: *h.home, Seq: *h.seq, Hash: h.hash, KeyGen: uint32(*h.gen), MAC: h.mac}
}

func scanAudit(row scanner) (domain.AuditEntry, error) {
	var e domain.AuditEntry
	var at, gen int64
	if err := row.Scan(&e.HomeID, &e.Seq, &at, &e.ActorKind, &e.ActorID, &e.Action, &e.DeviceID, &e.EventID, &e.Result, &e.Detail, &e.Client, &e.SubjectID, &e.PrevHash, &e.Hash, &gen); err != nil {
		return domain.AuditEntry{}, err
	}
	e.At, e.KeyGen = fromTS(at), uint32(gen)
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
		`SELECT `+auditCols+` FROM audit WHERE home_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`, homeID, beforeSeq, limit)
}

// AuditHomes lists every home that exists, has entries or has a head.
func (s *Store) AuditHomes(ctx context.Context) ([]domain.AuditHome, error) {
	return list(ctx, s.pool, "list audit homes", func(sc scanner) (domain.AuditHome, error) {
		var h domain.AuditHome
		var head nullHead
		if err := sc.Scan(&h.HomeID, &h.Exists, &h.HasEntries, &head.home, &head.seq, &head.hash, &head.gen, &head.mac); err != nil {
			return domain.AuditHome{}, err
		}
		h.Head = head.get()
		return h, nil
	}, `WITH k(home_id) AS (SELECT id FROM homes UNION SELECT home_id FROM audit_heads UNION SELECT DISTINCT home_id FROM audit)
	    SELECT k.home_id, EXISTS (SELECT 1 FROM homes WHERE id = k.home_id), EXISTS (SELECT 1 FROM audit WHERE home_id = k.home_id),
	           h.home_id, h.seq, h.hash, h.key_gen, h.mac
	    FROM k LEFT JOIN audit_heads h ON h.home_id = k.home_id ORDER BY k.home_id`)
}

// AuditHeadsOf lists heads made under one generation, each in its tip.
func (s *Store) AuditHeadsOf(ctx context.Context, gen uint32, afterHome string, limit int) ([]domain.AuditTip, error) {
	if limit <= 0 {
		return nil, nil
	}
	return list(ctx, s.pool, "list audit heads", scanTip,
		`SELECT h.home_id, e.seq, e.hash, e.key_gen, h.seq, h.hash, h.key_gen, h.mac, a.hash
		 FROM audit_heads h
		 LEFT JOIN LATERAL (SELECT seq, hash, key_gen FROM audit WHERE home_id = h.home_id ORDER BY seq DESC LIMIT 1) e ON true
		 LEFT JOIN audit a ON a.home_id = h.home_id AND a.seq = h.seq
		 WHERE h.key_gen = $1 AND h.home_id > $2 ORDER BY h.home_id LIMIT $3`, int64(gen), afterHome, limit)
}

// ReplaceAuditHeads replaces the heads that are still as they were read.
func (s *Store) ReplaceAuditHeads(ctx context.Context, changes []store.AuditHeadChange) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		for _, c := range changes {
			if c.New.HomeID != c.Old.HomeID {
				return fmt.Errorf("audit head of %s replaced by one of %s", c.Old.HomeID, c.New.HomeID)
			}
			tag, err := tx.Exec(ctx,
				`UPDATE audit_heads SET seq = $1, hash = $2, key_gen = $3, mac = $4
				 WHERE home_id = $5 AND seq = $6 AND hash = $7 AND key_gen = $8 AND mac IS NOT DISTINCT FROM $9`,
				c.New.Seq, c.New.Hash, int64(c.New.KeyGen), c.New.MAC, c.Old.HomeID, c.Old.Seq, c.Old.Hash, int64(c.Old.KeyGen), c.Old.MAC)
			if err != nil {
				return wrap("replace audit head", err)
			}
			n += int(tag.RowsAffected())
		}
		return nil
	})
	return n, err
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
