// Package breaker takes the cache out of the media and authorization paths
// when something looks wrong (invariant 5): past a threshold of
// blocked media responses or cache mismatches within a window, it opens,
// and every path that consults it reads from the store alone (slower, never
// wrong) until an operator resets it with `camvault admin breaker reset`.
//
// Its state lives in the store, so every node sharing the store agrees: a
// node that trips opens at once and writes the trip; every node polls the
// store and follows what it finds, so a trip on one node and a reset by
// the operator reach all of them within one poll interval.
package breaker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
)

// Name is the store's name for the cache breaker.
const Name = "cache"

// Store is where the breaker keeps its state and records its trips.
type Store interface {
	Breaker(ctx context.Context, name string) (domain.Breaker, error)
	SetBreaker(ctx context.Context, name string, open bool, reason string, at time.Time) (bool, error)
	RecordIncident(ctx context.Context, in domain.Incident) error
}

// Metrics are what the breaker reports; any may be nil.
type Metrics struct {
	Open  func(open bool) // the gauge camvault_cache_breaker_open
	Trips func()          // camvault_cache_breaker_trips_total: this node opened it
}

// Config tunes the breaker.
type Config struct {
	// Threshold is how many alarms within Window open the breaker.
	Threshold int
	// Window is how far back alarms count.
	Window time.Duration
	// Poll is how often the state is read from the store.
	Poll time.Duration
	Now  func() time.Time
}

// DefaultConfig opens on 5 alarms in a minute and polls every second.
func DefaultConfig() Config {
	return Config{Threshold: 5, Window: time.Minute, Poll: time.Second, Now: time.Now}
}

// Breaker counts alarms and says whether the cache may be used. It is safe
// for concurrent use; Open is one atomic load.
type Breaker struct {
	store   Store
	cfg     Config
	log     *slog.Logger
	metrics Metrics

	open atomic.Bool
	kick chan struct{} // wakes Run to write a trip

	mu      sync.Mutex
	alarms  []time.Time // within the window, oldest first
	pending string      // a trip not yet written to the store: its reason
}

// New returns a closed breaker; Sync or Run load the shared state.
func New(st Store, cfg Config, log *slog.Logger, m Metrics) *Breaker {
	d := DefaultConfig()
	if cfg.Threshold <= 0 {
		cfg.Threshold = d.Threshold
	}
	if cfg.Window <= 0 {
		cfg.Window = d.Window
	}
	if cfg.Poll <= 0 {
		cfg.Poll = d.Poll
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Breaker{store: st, cfg: cfg, log: log, metrics: m, kick: make(chan struct{}, 1)}
}

// Open reports whether the cache must be bypassed.
func (b *Breaker) Open() bool { return b.open.Load() }

// Alarm counts one blocked response or cache mismatch, named by its kind
// of incident (domain.IncidentEgressBlocked or IncidentCacheMismatch). Past
// the threshold it opens the breaker at once on this node; Run writes the
// trip to the store, with an incident, for the other nodes. It never waits.
func (b *Breaker) Alarm(kind domain.IncidentKind) {
	now := b.cfg.Now()
	b.mu.Lock()
	if b.open.Load() {
		// Already open: the alarm cannot trip it again, and keeping it
		// would grow the list for as long as the breaker stays open.
		b.mu.Unlock()
		return
	}
	cut := 0
	for cut < len(b.alarms) && now.Sub(b.alarms[cut]) > b.cfg.Window {
		cut++
	}
	b.alarms = append(b.alarms[cut:], now)
	trip := len(b.alarms) >= b.cfg.Threshold
	reason := ""
	if trip {
		reason = fmt.Sprintf("%d alarms within %s, the last a %s", len(b.alarms), b.cfg.Window, kind)
		b.pending = reason
		b.alarms = nil
		b.setOpen(true)
	}
	b.mu.Unlock()
	if trip {
		if b.metrics.Trips != nil {
			b.metrics.Trips()
		}
		b.log.Error("cache breaker open: the cache is out of the media and authorization paths until an operator resets it",
			"reason", reason, "kind", kind)
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

// setOpen changes the local state; b.mu is held.
func (b *Breaker) setOpen(open bool) {
	if b.open.Swap(open) != open && b.metrics.Open != nil {
		b.metrics.Open(open)
	}
}

// Run keeps the breaker in step with the store until ctx ends.
func (b *Breaker) Run(ctx context.Context) {
	t := time.NewTicker(b.cfg.Poll)
	defer t.Stop()
	for {
		if err := b.Sync(ctx); err != nil && ctx.Err() == nil {
			b.log.Warn("cache breaker: syncing with the store", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.kick:
		}
	}
}

// Sync writes a pending trip to the store (recording the incident if this
// node is the one that opened it), then takes the store's state.
func (b *Breaker) Sync(ctx context.Context) error {
	b.mu.Lock()
	reason := b.pending
	b.mu.Unlock()
	if reason != "" {
		at := b.cfg.Now().UTC()
		changed, err := b.store.SetBreaker(ctx, Name, true, reason, at)
		if err != nil {
			return fmt.Errorf("write trip: %w", err) // stays pending, and open here
		}
		b.mu.Lock()
		b.pending = ""
		b.mu.Unlock()
		if changed {
			in := domain.Incident{ID: id.New(), At: at, Kind: domain.IncidentBreakerOpen, Detail: "cache bypassed on every node: " + reason}
			if err := b.store.RecordIncident(ctx, in); err != nil {
				b.log.Error("recording the breaker incident", "err", err)
			}
		}
	}
	st, err := b.store.Breaker(ctx, Name)
	if err != nil {
		return fmt.Errorf("read breaker: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending != "" {
		return nil // tripped again meanwhile: stay open until written
	}
	if b.open.Load() && !st.Open {
		b.alarms = nil
		b.log.Info("cache breaker reset: the cache is back in the media and authorization paths", "reason", st.Reason)
	}
	b.setOpen(st.Open)
	return nil
}

// Status is the breaker's state as an operator reads it.
func Status(ctx context.Context, st Store) (domain.Breaker, error) {
	return st.Breaker(ctx, Name)
}

// Reset closes the breaker for every node (within one poll interval).
func Reset(ctx context.Context, st Store, who string, at time.Time) (bool, error) {
	return st.SetBreaker(ctx, Name, false, "reset by "+who, at)
}
