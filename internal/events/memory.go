package events

import (
	"context"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/lease"
)

// How many records a node keeps in memory.
const (
	maxRecords = 1 << 16
	maxHomes   = 1 << 14
)

// WithLease makes the service keep event records and homes' wrapped data
// keys in process memory while the node's lease holds
// (docs/design/leases.md). Deleting or expiring an event is a change of
// its home, which every node holding a lease applies before the deletion
// is acknowledged, so a deleted event is not found again on any node.
// While the breaker is open nothing is used from memory. Call it before
// serving.
func (s *Service) WithLease(l lease.Holder) *Service {
	s.records = lease.NewTable[string, domain.Event](l, maxRecords)
	s.homes = lease.NewTable[string, domain.Home](l, maxHomes)
	return s
}

func (s *Service) remembering() bool { return s.records != nil && (s.bypass == nil || !s.bypass()) }

// event reads a live event: from memory while the lease holds, else from
// the store.
func (s *Service) event(ctx context.Context, eventID string) (domain.Event, error) {
	if !s.remembering() {
		return s.store.EventByID(ctx, eventID)
	}
	if e, ok := s.records.Get(eventID); ok && e.ID == eventID {
		return e, nil
	}
	return s.records.Load(eventID, func() (domain.Event, error) { return s.store.EventByID(ctx, eventID) },
		func(e domain.Event) (string, string) { return e.HomeID, "" })
}

// home reads a home (for its wrapped data key): from memory while the
// lease holds, else from the store.
func (s *Service) home(ctx context.Context, homeID string) (domain.Home, error) {
	if !s.remembering() {
		return s.store.HomeByID(ctx, homeID)
	}
	if h, ok := s.homes.Get(homeID); ok && h.ID == homeID {
		return h, nil
	}
	return s.homes.Load(homeID, func() (domain.Home, error) { return s.store.HomeByID(ctx, homeID) },
		func(h domain.Home) (string, string) { return h.ID, "" })
}
