package store

import (
	"context"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// Audit keeps each home's audit chain and its head.
type Audit interface {
	// AppendAudit appends one entry to a home's chain and, when build
	// returns a head, makes it the chain's head, in one transaction. build
	// is called inside it with the chain's tip (its last entry and its
	// head, see domain.AuditTip) and returns the entry, which must follow
	// the last one. Reading the tip is one statement.
	AppendAudit(ctx context.Context, homeID string, build func(tip domain.AuditTip) (domain.AuditEntry, *domain.AuditHead)) error
	// ListAudit returns entries with Seq below beforeSeq (0: from the end),
	// newest first, at most limit.
	ListAudit(ctx context.Context, homeID string, beforeSeq int64, limit int) ([]domain.AuditEntry, error)
	// AuditHomes lists, by home ID, every home that exists, has audit
	// entries or has a head, with its head.
	AuditHomes(ctx context.Context) ([]domain.AuditHome, error)
	// AuditHeadsOf lists up to limit heads made under generation gen (0:
	// unsigned), by home ID after the given one, each in the tip of its
	// chain.
	AuditHeadsOf(ctx context.Context, gen uint32, afterHome string, limit int) ([]domain.AuditTip, error)
	// ReplaceAuditHeads replaces each head still exactly as Old with New
	// (same home) and returns how many it replaced: a head an append moved
	// on meanwhile is left as the append made it.
	ReplaceAuditHeads(ctx context.Context, changes []AuditHeadChange) (int, error)
}

// AuditHeadChange is one head to replace, if it is still Old.
type AuditHeadChange struct {
	Old, New domain.AuditHead
}

// Incidents keeps incidents.
type Incidents interface {
	RecordIncident(ctx context.Context, in domain.Incident) error
	ListIncidents(ctx context.Context, limit int) ([]domain.Incident, error)
}

// Breakers keeps breaker states.
type Breakers interface {
	// Breaker reads a breaker; one that was never set is closed, with a
	// zero ChangedAt.
	Breaker(ctx context.Context, name string) (domain.Breaker, error)
	// SetBreaker opens or closes a breaker. Opening a closed one adds one
	// to Trips; setting the state it already has changes nothing and
	// returns changed false, so of several nodes tripping at once only one
	// records the trip.
	SetBreaker(ctx context.Context, name string, open bool, reason string, at time.Time) (changed bool, err error)
}

// KeyChecks keeps one check value per master key generation: what the
// first node to use that generation derived from its key, so a node with
// another key is refused before it writes anything.
type KeyChecks interface {
	// KeyCheck stores value for the generation if none is stored yet and
	// returns the value stored, atomically: of several nodes racing, every
	// one gets the first value written.
	KeyCheck(ctx context.Context, generation uint32, value []byte) (stored []byte, err error)
	// KeyGenerations lists the generations recorded, oldest first.
	KeyGenerations(ctx context.Context) ([]domain.KeyGeneration, error)
	// RetireKeyGeneration marks a recorded generation retired, with the
	// check value of its audit key; ErrNotFound if it was never recorded.
	// Retiring again replaces the audit check.
	RetireKeyGeneration(ctx context.Context, generation uint32, auditCheck []byte) error
}
