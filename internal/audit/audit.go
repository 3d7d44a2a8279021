// Package audit keeps each home's record of who looked at what
// (invariant 9). Entries form a hash chain per home: each entry's hash is an
// HMAC, under a key derived from the master key, of the previous entry's
// hash and the entry itself. Editing or removing an entry breaks every hash
// after it, and without the key nobody can forge a new chain. Each chain
// has a head, the last entry's sequence number and hash under a MAC, moved
// in the same transaction as each append: removing the newest entries, or
// all of them, leaves a head that names entries that are gone.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/store"
)

// Actions recorded.
const (
	ViewEvent     = "event.view"
	ViewThumbnail = "thumbnail.view"
	ViewClip      = "clip.view"
	DeleteEvent   = "event.delete"
	ExpireEvent   = "event.expire"
)

// IntegrationMQTT is the actor of a thumbnail handed to the home's own
// MQTT broker: an integration, not a partner (no partner has this ID,
// which is not a valid one).
const IntegrationMQTT = "mqtt"

// Results recorded.
const (
	ResultOK      = "ok"
	ResultBlocked = "blocked" // the last-step check refused to send
)

// Store is the chain storage.
type Store interface {
	AppendAudit(ctx context.Context, homeID string, build func(tip domain.AuditTip) (domain.AuditEntry, *domain.AuditHead)) error
	ListAudit(ctx context.Context, homeID string, beforeSeq int64, limit int) ([]domain.AuditEntry, error)
	AuditHomes(ctx context.Context) ([]domain.AuditHome, error)
	AuditHeadsOf(ctx context.Context, gen uint32, afterHome string, limit int) ([]domain.AuditTip, error)
	ReplaceAuditHeads(ctx context.Context, changes []store.AuditHeadChange) (int, error)
}

// Keys are the audit keys of the master key generations; *keys.Keyring
// is one. New entries and heads use the current generation's; each entry
// and head is verified with the key of the generation that made it.
type Keys interface {
	AuditKey() (gen uint32, key []byte)
	AuditKeyOf(gen uint32) ([]byte, bool)
	// AuditGenerations lists the generations with an audit key, newest
	// first.
	AuditGenerations() []uint32
}

// Entry is what a caller records; the log adds time, sequence and hashes.
type Entry struct {
	ActorKind domain.PrincipalKind
	ActorID   string
	Action    string
	DeviceID  string
	EventID   string
	Result    string
	// Detail says what changed beyond the action, in a few words (a new
	// role: "role viewer"); never an email or other personal data.
	Detail string
	// Client is the kind of device the action came from; Record takes it
	// from the request (WithUserAgent) when empty.
	Client string
	// SubjectID is the account the action was done to, if any.
	SubjectID string
}

// Log is the audit log.
type Log struct {
	store Store
	keys  Keys
	now   func() time.Time
	log   *slog.Logger // nil: nothing logged
}

// New returns the log.
func New(s Store, k Keys, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{store: s, keys: k, now: now}
}

// WithLogger makes l log an append that had to leave its chain's head
// where it was (see Record).
func (l *Log) WithLogger(log *slog.Logger) *Log {
	l.log = log
	return l
}

// Record appends e to the home's chain. It returns only once the entry is
// committed, so a look is on record before the bytes are sent.
//
// The head moves with the entry when it verifies and names an entry of the
// chain at or before its end (behind it only when a node of an earlier
// release appended), or when the chain was empty, or when the chain was
// written before heads existed (its last entry, made then, verifies). In
// any other case the chain has been tampered with: the entry is recorded
// all the same, the head is left as evidence for admin audit verify, and
// the log says so.
func (l *Log) Record(ctx context.Context, homeID string, e Entry) error {
	at := l.now().UTC().Truncate(time.Microsecond)
	gen, key := l.keys.AuditKey()
	client := e.Client
	if client == "" {
		client = ClientFrom(ctx)
	}
	var left string
	err := l.store.AppendAudit(ctx, homeID, func(tip domain.AuditTip) (domain.AuditEntry, *domain.AuditHead) {
		se := domain.AuditEntry{HomeID: homeID, Seq: tip.Seq() + 1, At: at, ActorKind: e.ActorKind, ActorID: e.ActorID,
			Action: e.Action, DeviceID: e.DeviceID, EventID: e.EventID, Result: e.Result, Detail: clip(e.Detail, maxDetail),
			Client: clip(client, maxClient), SubjectID: e.SubjectID, PrevHash: tip.Hash(), KeyGen: gen}
		se.Hash = entryHash(key, se)
		if left = l.headLeft(tip); left != "" {
			return se, nil
		}
		return se, signHead(key, gen, homeID, se.Seq, se.Hash)
	})
	if err != nil {
		return fmt.Errorf("record audit entry: %w", err)
	}
	if left != "" && l.log != nil {
		l.log.WarnContext(ctx, "audit entry recorded, but its chain's head was left where it was: run camvault admin audit verify",
			"home", homeID, "why", left)
	}
	return nil
}

// headLeft says why an append to tip must leave the head alone, or "".
func (l *Log) headLeft(tip domain.AuditTip) string {
	switch {
	case tip.Head == nil && tip.Last == nil:
		return ""
	case tip.Head == nil:
		if tip.Last.KeyGen == 0 && l.entryProblem(*tip.Last) == "" {
			return "" // a chain from before heads: it gets one now
		}
		return "the chain has entries but no head"
	}
	if why := l.headProblem(*tip.Head); why != "" {
		return why
	}
	switch {
	case tip.Head.Seq > tip.Seq():
		return "the head names entries past the chain's end"
	case !hmac.Equal(tip.HeadEntryHash, tip.Head.Hash):
		return "the head names an entry the chain does not have"
	}
	return ""
}

// entryHash is an entry's HMAC under key. An entry made before entries
// recorded their generation (KeyGen 0) was hashed without it.
func entryHash(key []byte, e domain.AuditEntry) []byte {
	parts := [][]byte{e.PrevHash, []byte(e.HomeID), []byte(strconv.FormatInt(e.Seq, 10)),
		[]byte(strconv.FormatInt(e.At.UnixMicro(), 10)), []byte(e.ActorKind), []byte(e.ActorID),
		[]byte(e.Action), []byte(e.DeviceID), []byte(e.EventID), []byte(e.Result)}
	if e.KeyGen != 0 {
		parts = append(parts, []byte(strconv.FormatUint(uint64(e.KeyGen), 10)))
	}
	// Entries made before these were recorded have none of them,
	// and keep the hash they were made with.
	if e.Detail != "" || e.Client != "" || e.SubjectID != "" {
		parts = append(parts, []byte(e.Detail), []byte(e.Client), []byte(e.SubjectID))
	}
	m := hmac.New(sha256.New, key)
	m.Write(keys.Encode(parts...))
	return m.Sum(nil)
}

// entryProblem says what is wrong with an entry's hash, or "". An entry
// of no recorded generation is checked with every audit key.
func (l *Log) entryProblem(e domain.AuditEntry) string {
	if e.KeyGen == 0 {
		for _, gen := range l.keys.AuditGenerations() {
			if key, _ := l.keys.AuditKeyOf(gen); hmac.Equal(e.Hash, entryHash(key, e)) {
				return ""
			}
		}
		return "content does not match its hash (edited)"
	}
	key, ok := l.keys.AuditKeyOf(e.KeyGen)
	if !ok {
		return fmt.Sprintf("made under master key generation %d, whose audit key is not in the key file", e.KeyGen)
	}
	if !hmac.Equal(e.Hash, entryHash(key, e)) {
		return "content does not match its hash (edited)"
	}
	return ""
}

func headMAC(key []byte, gen uint32, homeID string, seq int64, hash []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(keys.Encode([]byte("camvault/audit-head/v1"), []byte(homeID), []byte(strconv.FormatInt(seq, 10)), hash,
		[]byte(strconv.FormatUint(uint64(gen), 10))))
	return m.Sum(nil)
}

func signHead(key []byte, gen uint32, homeID string, seq int64, hash []byte) *domain.AuditHead {
	return &domain.AuditHead{HomeID: homeID, Seq: seq, Hash: hash, KeyGen: gen, MAC: headMAC(key, gen, homeID, seq, hash)}
}

// headProblem says what is wrong with a head's MAC, or "".
func (l *Log) headProblem(h domain.AuditHead) string {
	key, ok := l.keys.AuditKeyOf(h.KeyGen)
	if !ok {
		return fmt.Sprintf("its head was signed under master key generation %d, whose audit key is not in the key file", h.KeyGen)
	}
	if !hmac.Equal(h.MAC, headMAC(key, h.KeyGen, h.HomeID, h.Seq, h.Hash)) {
		return "its head does not match its MAC (edited)"
	}
	return ""
}

// List returns a home's entries newest first.
func (l *Log) List(ctx context.Context, homeID string, beforeSeq int64, limit int) ([]domain.AuditEntry, error) {
	return l.store.ListAudit(ctx, homeID, beforeSeq, limit)
}

// ResignHeads signs again, under the current generation, every head
// signed under another one, after checking it under its own: a rotation
// does this so the entries of an older generation are held by a MAC of
// the new one (rewriting them would change the hash the head names). A
// head that does not verify is left as it is and reported. It works in
// pages of page heads and may be stopped and run again.
func (l *Log) ResignHeads(ctx context.Context, fromGens []uint32, page int) (resigned int, problems []Problem, err error) {
	gen, key := l.keys.AuditKey()
	for _, from := range fromGens {
		if from == gen {
			continue
		}
		after := ""
		for {
			tips, err := l.store.AuditHeadsOf(ctx, from, after, page)
			if err != nil {
				return resigned, problems, fmt.Errorf("list audit heads of generation %d: %w", from, err)
			}
			if len(tips) == 0 {
				break
			}
			var changes []store.AuditHeadChange
			for _, tip := range tips {
				h := *tip.Head
				after = h.HomeID
				if why := l.headProblem(h); why != "" {
					problems = append(problems, Problem{h.HomeID, h.Seq, why})
					continue
				}
				changes = append(changes, store.AuditHeadChange{Old: h, New: *signHead(key, gen, h.HomeID, h.Seq, h.Hash)})
			}
			n, err := l.store.ReplaceAuditHeads(ctx, changes)
			resigned += n
			if err != nil {
				return resigned, problems, fmt.Errorf("sign audit heads again: %w", err)
			}
		}
	}
	return resigned, problems, nil
}
