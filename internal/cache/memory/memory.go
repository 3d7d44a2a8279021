// Package memory is the in-process cache backend: a map with least recently
// used eviction, bounded by the total bytes of its keys and values (plus a
// fixed per-entry overhead), so memory stays bounded under any load
// (invariant 8). Expired entries are dropped when they are read or
// when they reach the cold end of the list.
package memory

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/cache"
)

// EntryOverhead is what each entry is charged besides its key and value:
// roughly the list element, the map slot and the entry header.
const EntryOverhead = 128

type entry struct {
	key     string
	value   []byte
	expires time.Time // zero: never
}

func (e *entry) cost() int64 { return int64(len(e.key)+len(e.value)) + EntryOverhead }

// Backend is a byte-bounded LRU cache. It is safe for concurrent use.
type Backend struct {
	max int64
	now func() time.Time

	mu    sync.Mutex
	used  int64
	order *list.List // front: most recently used; values are *entry
	items map[string]*list.Element
}

// New makes a backend holding at most maxBytes (keys, values and
// EntryOverhead per entry).
func New(maxBytes int64) (*Backend, error) {
	if maxBytes <= EntryOverhead {
		return nil, fmt.Errorf("memory cache: limit %d bytes is too small", maxBytes)
	}
	return &Backend{max: maxBytes, now: time.Now, order: list.New(), items: map[string]*list.Element{}}, nil
}

var _ cache.Backend = (*Backend)(nil)

// Get returns a copy of the value under key.
func (b *Backend) Get(_ context.Context, key string) ([]byte, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	el, ok := b.items[key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*entry)
	if !e.expires.IsZero() && !b.now().Before(e.expires) {
		b.remove(el)
		return nil, false, nil
	}
	b.order.MoveToFront(el)
	return append(make([]byte, 0, len(e.value)), e.value...), true, nil
}

// Set stores a copy of value, evicting the least recently used entries as
// needed. A value that could never fit returns cache.ErrTooLarge and
// removes any previous value under key, so no outdated value survives a
// failed overwrite.
func (b *Backend) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return cache.ErrNegativeTTL
	}
	e := &entry{key: key, value: append(make([]byte, 0, len(value)), value...)}
	if ttl > 0 {
		e.expires = b.now().Add(ttl)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if el, ok := b.items[key]; ok {
		b.remove(el)
	}
	if e.cost() > b.max {
		return fmt.Errorf("%w: %d bytes, the memory cache holds %d", cache.ErrTooLarge, e.cost(), b.max)
	}
	b.items[key] = b.order.PushFront(e)
	b.used += e.cost()
	for b.used > b.max {
		b.remove(b.order.Back())
	}
	return nil
}

// Delete removes key.
func (b *Backend) Delete(_ context.Context, key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if el, ok := b.items[key]; ok {
		b.remove(el)
	}
	return nil
}

func (b *Backend) remove(el *list.Element) {
	e := b.order.Remove(el).(*entry)
	delete(b.items, e.key)
	b.used -= e.cost()
}

// Limit is the most bytes the backend holds.
func (b *Backend) Limit() int64 { return b.max }

// Used is the bytes held now.
func (b *Backend) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Len is the number of entries held now (expired ones included until they
// are dropped).
func (b *Backend) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items)
}
