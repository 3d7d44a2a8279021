package breaker_test

import (
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/breaker"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store/sqlite"
)

type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// Two breakers on one store are two nodes: a trip on one reaches the
// other at its next sync, and so does the operator's reset.
func TestBreakerSharedByNodes(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := &clock{}
	c.ns.Store(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	cfg := breaker.Config{Threshold: 3, Window: time.Minute, Now: c.now}
	log := slog.New(slog.DiscardHandler)
	var trips int
	a := breaker.New(st, cfg, log, breaker.Metrics{Trips: func() { trips++ }})
	b := breaker.New(st, cfg, log, breaker.Metrics{})

	// Alarms spread wider than the window never add up to the threshold.
	for range 4 {
		a.Alarm(domain.IncidentCacheMismatch)
		a.Alarm(domain.IncidentEgressBlocked)
		c.advance(61 * time.Second)
	}
	if a.Open() {
		t.Fatal("opened on alarms spread over more than the window")
	}
	a.Alarm(domain.IncidentCacheMismatch)
	a.Alarm(domain.IncidentCacheMismatch)
	if a.Open() {
		t.Fatal("opened below the threshold")
	}
	a.Alarm(domain.IncidentEgressBlocked)
	if !a.Open() || trips != 1 {
		t.Fatalf("not open at the threshold (open %v, trips %d)", a.Open(), trips)
	}
	if b.Open() {
		t.Fatal("the other node opened before syncing")
	}
	for _, n := range []*breaker.Breaker{a, b} {
		if err := n.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !b.Open() || !a.Open() {
		t.Fatalf("after sync: a open %v, b open %v", a.Open(), b.Open())
	}
	got, err := breaker.Status(ctx, st)
	if err != nil || !got.Open || got.Trips != 1 {
		t.Fatalf("stored state %+v, %v", got, err)
	}
	incidents, err := st.ListIncidents(ctx, 10)
	if err != nil || len(incidents) != 1 || incidents[0].Kind != "breaker_open" {
		t.Fatalf("incidents %+v, %v; want one breaker_open", incidents, err)
	}

	// Open, alarms do not count towards another trip.
	for range 10 {
		b.Alarm(domain.IncidentCacheMismatch)
	}
	if changed, err := breaker.Reset(ctx, st, "test", c.now()); err != nil || !changed {
		t.Fatalf("reset: %v %v", changed, err)
	}
	for _, n := range []*breaker.Breaker{a, b} {
		if err := n.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if n.Open() {
			t.Fatal("still open after the reset")
		}
	}
	// After the reset the count starts afresh.
	b.Alarm(domain.IncidentCacheMismatch)
	b.Alarm(domain.IncidentCacheMismatch)
	if b.Open() {
		t.Fatal("alarms from before the reset counted after it")
	}
}
