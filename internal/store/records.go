package store

import (
	"context"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// Audit keeps each home's audit chain.
type Audit interface {
	// AppendAudit appends one entry to a home's chain. build is called,
	// inside the append's transaction, with the chain's last sequence
	// number and hash (0 and nil for an empty chain) and returns the entry.
	AppendAudit(ctx context.Context, homeID string, build func(prevSeq int64, prevHash []byte) domain.AuditEntry) error
	// ListAudit returns entries with Seq below beforeSeq (0: from the end),
	// newest first, at most limit.
	ListAudit(ctx context.Context, homeID string, beforeSeq int64, limit int) ([]domain.AuditEntry, error)
	// AuditHomes lists the homes that have an audit chain.
	AuditHomes(ctx context.Context) ([]string, error)
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
}
