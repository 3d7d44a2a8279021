// Package audit keeps each home's record of who looked at what
// (invariant 9). Entries form a hash chain per home: each entry's hash is an
// HMAC, under a key derived from the master key, of the previous entry's
// hash and the entry itself. Editing or removing an entry breaks every hash
// after it, and without the key nobody can forge a new chain.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strconv"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/keys"
)

// Actions recorded.
const (
	ViewEvent     = "event.view"
	ViewThumbnail = "thumbnail.view"
	ViewClip      = "clip.view"
	DeleteEvent   = "event.delete"
	ExpireEvent   = "event.expire"
)

// Results recorded.
const (
	ResultOK      = "ok"
	ResultBlocked = "blocked" // the last-step check refused to send
)

// Store is the chain storage.
type Store interface {
	AppendAudit(ctx context.Context, homeID string, build func(prevSeq int64, prevHash []byte) domain.AuditEntry) error
	ListAudit(ctx context.Context, homeID string, beforeSeq int64, limit int) ([]domain.AuditEntry, error)
	AuditHomes(ctx context.Context) ([]string, error)
}

// Entry is what a caller records; the log adds time, sequence and hashes.
type Entry struct {
	ActorKind domain.PrincipalKind
	ActorID   string
	Action    string
	DeviceID  string
	EventID   string
	Result    string
}

// Log is the audit log.
type Log struct {
	store Store
	key   []byte
	now   func() time.Time
}

// New returns the log; key is its chain key (keys.Keyring.Derive("audit-chain")).
func New(s Store, key []byte, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{store: s, key: key, now: now}
}

// Record appends e to the home's chain. It returns only once the entry is
// committed, so a look is on record before the bytes are sent.
func (l *Log) Record(ctx context.Context, homeID string, e Entry) error {
	at := l.now().UTC().Truncate(time.Microsecond)
	err := l.store.AppendAudit(ctx, homeID, func(prevSeq int64, prevHash []byte) domain.AuditEntry {
		se := domain.AuditEntry{HomeID: homeID, Seq: prevSeq + 1, At: at, ActorKind: e.ActorKind, ActorID: e.ActorID,
			Action: e.Action, DeviceID: e.DeviceID, EventID: e.EventID, Result: e.Result, PrevHash: prevHash}
		se.Hash = l.hash(se)
		return se
	})
	if err != nil {
		return fmt.Errorf("record audit entry: %w", err)
	}
	return nil
}

func (l *Log) hash(e domain.AuditEntry) []byte {
	m := hmac.New(sha256.New, l.key)
	m.Write(keys.Encode(e.PrevHash, []byte(e.HomeID), []byte(strconv.FormatInt(e.Seq, 10)),
		[]byte(strconv.FormatInt(e.At.UnixMicro(), 10)), []byte(e.ActorKind), []byte(e.ActorID),
		[]byte(e.Action), []byte(e.DeviceID), []byte(e.EventID), []byte(e.Result)))
	return m.Sum(nil)
}

// List returns a home's entries newest first.
func (l *Log) List(ctx context.Context, homeID string, beforeSeq int64, limit int) ([]domain.AuditEntry, error) {
	return l.store.ListAudit(ctx, homeID, beforeSeq, limit)
}

// Problem is one break found in a chain.
type Problem struct {
	HomeID string
	Seq    int64
	What   string
}

func (p Problem) String() string { return fmt.Sprintf("home %s entry %d: %s", p.HomeID, p.Seq, p.What) }

// Verify walks every home's chain and returns each break: an entry whose
// hash does not match its content, a link to a previous hash that is not
// the previous entry's, or a gap in the sequence.
func (l *Log) Verify(ctx context.Context) (entries int, problems []Problem, err error) {
	homes, err := l.store.AuditHomes(ctx)
	if err != nil {
		return 0, nil, err
	}
	const page = 1000
	for _, h := range homes {
		// Pages come newest first; walk each page backwards in sequence.
		var newer *domain.AuditEntry
		before := int64(0)
		for {
			list, err := l.store.ListAudit(ctx, h, before, page)
			if err != nil {
				return entries, problems, err
			}
			for i := range list {
				e := list[i]
				entries++
				if !hmac.Equal(e.Hash, l.hash(e)) {
					problems = append(problems, Problem{h, e.Seq, "content does not match its hash (edited)"})
				}
				if newer != nil {
					if newer.Seq != e.Seq+1 {
						problems = append(problems, Problem{h, e.Seq + 1, fmt.Sprintf("entries %d to %d are missing (removed)", e.Seq+1, newer.Seq-1)})
					}
					if !hmac.Equal(newer.PrevHash, e.Hash) {
						problems = append(problems, Problem{h, newer.Seq, "does not link to the entry before it"})
					}
				}
				newer = &list[i]
			}
			if len(list) < page {
				break
			}
			before = list[len(list)-1].Seq
		}
		if newer != nil && (newer.Seq != 1 || newer.PrevHash != nil) {
			problems = append(problems, Problem{h, newer.Seq, "the chain does not start at entry 1 (entries removed)"})
		}
	}
	return entries, problems, nil
}
