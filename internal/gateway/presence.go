package gateway

import (
	"context"
	"fmt"
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

// run writes batches until ctx ends. What is pending then is left for
// the last flush, which shutting down makes once every connection's reader
// has ended (and set its camera offline).
func (p *presenceWriter) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		select { // let a burst gather into one batch
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
		if n, err := p.flush(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("writing device presence; will retry", "devices", n, "err", err)
		}
	}
}

// flush writes what is pending in one batch. On failure the batch is kept
// for the next one, unless newer news came, and its size is returned with
// the error.
func (p *presenceWriter) flush(ctx context.Context) (int, error) {
	p.mu.Lock()
	batch := make([]domain.Presence, 0, len(p.pending))
	for _, u := range p.pending {
		batch = append(batch, u)
	}
	clear(p.pending)
	p.mu.Unlock()
	if len(batch) == 0 {
		return 0, nil
	}
	if err := p.store.SetPresence(ctx, batch); err != nil {
		p.mu.Lock()
		for _, u := range batch {
			if _, newer := p.pending[u.DeviceID]; !newer {
				p.pending[u.DeviceID] = u
			}
		}
		p.mu.Unlock()
		return len(batch), fmt.Errorf("set presence: %w", err)
	}
	return len(batch), nil
}
