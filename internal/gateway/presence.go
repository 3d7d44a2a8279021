package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// presenceWriter batches presence changes: after an outage thousands of
// cameras reconnect within seconds, and one transaction per batch keeps the
// store's writer from becoming the bottleneck. Only the latest state of
// each device is kept, so memory stays bounded by the number of devices.
type presenceWriter struct {
	store   Store
	log     *slog.Logger
	mu      sync.Mutex
	pending map[string]domain.Presence
	wake    chan struct{}
}

func newPresenceWriter(s Store, log *slog.Logger) *presenceWriter {
	return &presenceWriter{store: s, log: log, pending: map[string]domain.Presence{}, wake: make(chan struct{}, 1)}
}

func (p *presenceWriter) set(u domain.Presence) {
	p.mu.Lock()
	p.pending[u.DeviceID] = u
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run writes batches until ctx ends, then writes what is left.
func (p *presenceWriter) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			p.flush(context.WithoutCancel(ctx))
			return
		case <-p.wake:
		}
		time.Sleep(50 * time.Millisecond) // let a burst gather into one batch
		p.flush(ctx)
	}
}

func (p *presenceWriter) flush(ctx context.Context) {
	p.mu.Lock()
	batch := make([]domain.Presence, 0, len(p.pending))
	for _, u := range p.pending {
		batch = append(batch, u)
	}
	clear(p.pending)
	p.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err := p.store.SetPresence(ctx, batch); err != nil {
		if ctx.Err() == nil {
			p.log.Warn("writing device presence; will retry", "devices", len(batch), "err", err)
		}
		// Keep what failed for the next batch, unless newer news came.
		p.mu.Lock()
		for _, u := range batch {
			if _, newer := p.pending[u.DeviceID]; !newer {
				p.pending[u.DeviceID] = u
			}
		}
		p.mu.Unlock()
	}
}
