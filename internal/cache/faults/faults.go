// Package faults injects cache faults for tests and `camvault storm
// --cache-faults`: a Backend wrapper that swaps values between keys, replays
// stale values, corrupts bytes, drops writes and adds delay, and a TCP proxy
// for Redis that hands replies to the wrong client connection. With any of
// them in place a cache.Cache must still never return a value for the wrong
// key or tenant (invariant 4).
package faults

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camvault/camvault/internal/cache"
)

// Counts says how many faults a Backend injected.
type Counts struct {
	Swapped, Stale, Corrupted, Dropped, Delayed uint64
}

type write struct {
	seq   uint64
	key   string
	value []byte
}

// Backend wraps a cache.Backend and injects the faults of a Spec. It keeps
// the last Spec.History writes (even dropped ones) to draw swapped and
// stale values from. It is safe for concurrent use.
type Backend struct {
	inner cache.Backend
	spec  Spec

	mu     sync.Mutex
	rng    *mrand.Rand
	recent []write // ring of the latest writes
	next   int
	seq    uint64

	swapped, stale, corrupted, dropped, delayed atomic.Uint64
}

var _ cache.Backend = (*Backend)(nil)

// Wrap returns inner with the faults of spec. Spec.CrossReply is ignored
// here (it is the proxy's).
func Wrap(inner cache.Backend, spec Spec) *Backend {
	seed := spec.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		for _, x := range b {
			seed = seed<<8 | uint64(x)
		}
	}
	if spec.History <= 0 {
		spec.History = 1024
	}
	return &Backend{inner: inner, spec: spec, rng: mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), recent: make([]write, 0, spec.History)}
}

// Counts returns how many faults were injected so far.
func (b *Backend) Counts() Counts {
	return Counts{b.swapped.Load(), b.stale.Load(), b.corrupted.Load(), b.dropped.Load(), b.delayed.Load()}
}

func (b *Backend) roll(rate float64) bool {
	if rate <= 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rng.Float64() < rate
}

func (b *Backend) delay(ctx context.Context) error {
	if b.spec.Delay <= 0 {
		return nil
	}
	b.mu.Lock()
	d := time.Duration(b.rng.Int64N(int64(b.spec.Delay) + 1))
	b.mu.Unlock()
	b.delayed.Add(1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cache faults: delay: %w", context.Cause(ctx))
	}
}

// Get returns, by the spec's rates, another key's value, an older value of
// this key, or the stored one; then maybe corrupts it.
func (b *Backend) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := b.delay(ctx); err != nil {
		return nil, false, err
	}
	v, ok, err := b.source(ctx, key)
	if err != nil || !ok {
		return v, ok, err
	}
	if b.roll(b.spec.Corrupt) {
		b.corrupted.Add(1)
		v = b.corrupt(v)
	}
	return v, true, nil
}

func (b *Backend) source(ctx context.Context, key string) ([]byte, bool, error) {
	if b.roll(b.spec.Swap) {
		if other, ok := b.pick(func(w write) bool { return w.key != key }); ok {
			b.swapped.Add(1)
			v, found, err := b.inner.Get(ctx, other.key)
			if err != nil || !found {
				v = other.value // dropped or gone: the value once written is as good
			}
			return clone(v), true, nil
		}
	}
	if b.roll(b.spec.Stale) {
		latest := b.latest(key)
		if old, ok := b.pick(func(w write) bool { return w.key == key && w.seq != latest }); ok {
			b.stale.Add(1)
			return clone(old.value), true, nil
		}
	}
	v, ok, err := b.inner.Get(ctx, key)
	if err != nil {
		return nil, false, fmt.Errorf("cache faults: %w", err)
	}
	return v, ok, nil
}

// pick returns a random recent write that matches.
func (b *Backend) pick(match func(write) bool) (write, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int
	var chosen write
	for _, w := range b.recent { // reservoir sampling of one
		if match(w) {
			n++
			if b.rng.IntN(n) == 0 {
				chosen = w
			}
		}
	}
	return chosen, n > 0
}

func (b *Backend) latest(key string) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var seq uint64
	for _, w := range b.recent {
		if w.key == key && w.seq > seq {
			seq = w.seq
		}
	}
	return seq
}

// corrupt flips a bit, truncates, or appends bytes.
func (b *Backend) corrupt(v []byte) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	v = clone(v)
	switch mode := b.rng.IntN(4); {
	case len(v) > 0 && mode < 2:
		i := b.rng.IntN(len(v))
		v[i] ^= 1 << b.rng.IntN(8)
	case len(v) > 0 && mode == 2:
		v = v[:b.rng.IntN(len(v))]
	default:
		v = append(v, byte(b.rng.Uint32()))
	}
	return v
}

// Set records the write, then by the drop rate reports success without
// storing it.
func (b *Backend) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := b.delay(ctx); err != nil {
		return err
	}
	b.mu.Lock()
	b.seq++
	w := write{seq: b.seq, key: key, value: clone(value)}
	if len(b.recent) < b.spec.History {
		b.recent = append(b.recent, w)
	} else {
		b.recent[b.next] = w
		b.next = (b.next + 1) % b.spec.History
	}
	b.mu.Unlock()
	if b.roll(b.spec.Drop) {
		b.dropped.Add(1)
		return nil
	}
	if err := b.inner.Set(ctx, key, value, ttl); err != nil {
		return fmt.Errorf("cache faults: %w", err)
	}
	return nil
}

// Delete, by the drop rate, reports success without deleting.
func (b *Backend) Delete(ctx context.Context, key string) error {
	if err := b.delay(ctx); err != nil {
		return err
	}
	if b.roll(b.spec.Drop) {
		b.dropped.Add(1)
		return nil
	}
	if err := b.inner.Delete(ctx, key); err != nil {
		return fmt.Errorf("cache faults: %w", err)
	}
	return nil
}

func clone(v []byte) []byte { return append(make([]byte, 0, len(v)), v...) }
